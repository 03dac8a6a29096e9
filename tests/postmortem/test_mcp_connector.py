"""The MCP connector against a local FastMCP server, over stdio and streamable HTTP."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from incident_core import richtext as rt
from incident_core.postmortem_render import PostmortemDocument
from incident_core.publishing import validate_publishing
from publishers.errors import PublishError
from publishers.mcp_connector import McpConnector, first_url, render, template_context
from tests.postmortem.fake_mcp_server import server
from tests.postmortem.mcp_http import ThreadedUvicorn

SCRIPT = Path(__file__).with_name("fake_mcp_server.py")
DOC = PostmortemDocument(
    org_id="o", incident_id="0123456789abcdef0123456789abcdef", human_id="INC-7", title="INC-7 — Checkout latency",
    severity="SEV2", date="2026-11-27",
    content=rt.doc(rt.Heading(rt.inline("Postmortem: INC-7"), 1), rt.Heading(rt.inline("Summary")), "x [ev 1]"),
    summary="x [ev 1]", approver="slack:UALICE",
    action_items=({"id": "ai-1", "title": "Alert on pool saturation", "owner": "slack:UBOB", "priority": "P2",
                   "due": "2026-12-11", "kind": "detect", "cites": [3]},
                  {"id": "ai-2", "title": "Document the rollback", "owner": "slack:UBOB", "priority": "P3",
                   "due": "2026-12-24", "kind": "process", "cites": [5]}))
CALLS: list[dict[str, Any]] = [
    {"tool": "create_pull_request", "arguments": {"owner": "acme", "repo": "pm", "title": "Postmortem: {title}",
                                                  "head": "{branch}", "base": "main", "body": "{markdown}"}},
    {"tool": "createJiraIssue", "for_each": "action_item",
     "arguments": {"projectKey": "OPS", "summary": "{item_title}", "description": "From {incident}, due {item_due}"}},
]
LOOKUP = {"tool": "list_pull_requests", "arguments": {"owner": "acme", "repo": "pm", "head": "{branch}"}}


def stored(store: Path) -> dict[str, Any]:
    return json.loads(store.read_text())


def test_stdio_server_publishes_once_with_a_lookup(tmp_path: Path) -> None:
    store = tmp_path / "forge.json"
    config = validate_publishing({"mcp": {"forge": {"transport": "stdio", "command": sys.executable,
                                                    "args": [str(SCRIPT), str(store)], "lookup": LOOKUP,
                                                    "calls": CALLS}}})["mcp"]["forge"]
    connector = McpConnector(env={"PATH": "/usr/bin:/bin"}, timeout=20)
    first = connector.publish(DOC, config)
    assert first.url == "https://forge.example/acme/pm/pull/1"
    assert "OPS-1" in first.ref and "OPS-2" in first.ref
    again = connector.publish(DOC, config)  # a retry after a crash: the lookup finds the pull request
    assert again.url == first.url and again.ref == "found by lookup"
    data = stored(store)
    assert len(data["pulls"]) == 1 and data["pulls"][0]["body"] == "# Postmortem: INC-7\n\n## Summary\n\nx \\[ev 1]\n"
    assert data["pulls"][0]["head"] == DOC.branch
    assert [i["summary"] for i in data["issues"]] == ["Alert on pool saturation", "Document the rollback"]
    assert data["issues"][0]["description"] == "From INC-7, due 2026-12-11"
    no_lookup = {**config, "lookup": None}
    with pytest.raises(PublishError, match="already exists"):
        connector.publish(DOC, no_lookup)  # the tool's own error is reported, not swallowed


def test_streamable_http_server_with_a_header_from_the_environment(tmp_path: Path) -> None:
    store = tmp_path / "forge.json"
    app = server(store, stateless_http=True).streamable_http_app()
    seen: list[str] = []

    async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            seen.append(headers.get(b"authorization", b"").decode())
            if headers.get(b"authorization") != b"Bearer s3cret":
                await send({"type": "http.response.start", "status": 401, "headers": []})
                await send({"type": "http.response.body", "body": b"unauthorized"})
                return
        await app(scope, receive, send)

    with ThreadedUvicorn(guarded) as srv:
        config = validate_publishing({"mcp": {"forge": {
            "transport": "http", "url": f"{srv.url}/mcp", "headers": {"Authorization": "Bearer $FORGE_TOKEN"},
            "calls": CALLS[:1]}}})["mcp"]["forge"]
        result = McpConnector(env={"FORGE_TOKEN": "s3cret"}, timeout=10).publish(DOC, config)
        assert result.url == "https://forge.example/acme/pm/pull/1"
        with pytest.raises(PublishError, match="MCP"):
            McpConnector(env={"FORGE_TOKEN": "wrong"}, timeout=5).publish(DOC, config)
    assert seen and set(seen) <= {"Bearer s3cret", "Bearer wrong"}
    assert len(stored(store)["pulls"]) == 1


def test_configuration_is_validated_and_secrets_stay_out_of_it() -> None:
    with pytest.raises(Exception, match="looks like a secret"):
        validate_publishing({"mcp": {"x": {"transport": "http", "url": "https://mcp.example/mcp",
                                           "headers": {"Authorization": "Bearer ghp_literal"}, "calls": CALLS}}})
    with pytest.raises(Exception, match="calls must list"):
        validate_publishing({"mcp": {"x": {"command": "server"}}})
    with pytest.raises(Exception, match="owner/name"):
        validate_publishing({"github": {"repo": "just-a-name"}})
    ctx = template_context(DOC, DOC.action_items[0])
    assert render({"a": ["{item_title} {unknown}"], "n": 3}, ctx) == {"a": ["Alert on pool saturation {unknown}"],
                                                                      "n": 3}
    assert first_url('{"html_url": "https://x/pull/1"}') == "https://x/pull/1"
    assert first_url("Created OPS-1: https://acme.atlassian.net/browse/OPS-1.") == \
        "https://acme.atlassian.net/browse/OPS-1"


def test_an_unreachable_server_is_a_clear_error() -> None:
    config = {"transport": "http", "url": "http://127.0.0.1:9/mcp", "calls": CALLS[:1]}
    with pytest.raises(PublishError, match="MCP call failed"):
        McpConnector(env={}, timeout=2).publish(DOC, config)
