"""`revenant mcp`: read-only tools scoped to one org by its token, in process, over stdio and over HTTP;
and the knowledge loop — a published postmortem is found by search_runbooks."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.memory import create_connected_server_and_client_session

from bot.bootstrap import App
from bot.mcp_server import bearer_guard, build_mcp, org_for_token
from incident_core import postmortem_usecases as pmu
from incident_core.errors import PermissionDenied
from incident_core.model import OrgRole
from tests.conftest import make_app
from tests.postmortem.conftest import ALICE, BOB, PublishWorld, deliver_all, resolved
from tests.postmortem.mcp_http import ThreadedUvicorn

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def published(tmp_path: Path) -> Iterator[tuple[App, str, str]]:
    """An org whose INC-1 postmortem is approved and published to the (real) knowledge base only."""
    app = make_app(f"sqlite:///{tmp_path / 'revenant.db'}", tmp_path, no_scheduler=True)
    org = app.directory.create_org("mcp-acme")
    for user, role in ((ALICE, OrgRole.COMMANDER), (BOB, OrgRole.RESPONDER)):
        app.directory.set_role(org.id, user, role)
    world = PublishWorld(app=app, org_id=org.id, gh=None, jira=None, knowledge=None)  # type: ignore[arg-type]
    s = resolved(world, title="Payments DB connection pool exhausted")
    deliver_all(world)
    pmu.approve_postmortem(deps=app.deps, queries=app.queries, org_id=org.id, incident_id=s.incident_id, actor=ALICE)
    deliver_all(world)
    other = app.directory.create_org("mcp-other")
    world_b = PublishWorld(app=app, org_id=other.id, gh=None, jira=None, knowledge=None)  # type: ignore[arg-type]
    resolved(world_b, title="Secret incident of another org")
    try:
        yield app, org.id, app.directory.issue_token(org.id)
    finally:
        app.close()


def payload(result: Any) -> dict[str, Any]:
    assert not result.isError, result.content
    return json.loads(result.content[0].text)


async def test_tools_read_one_org_and_search_finds_the_published_postmortem(published: tuple[App, str, str]) -> None:
    app, org_id, token = published
    assert org_for_token(app, token) == org_id and app.queries.get(org_id, "INC-1").status.value == "closed"
    with pytest.raises(PermissionDenied, match="webhook token"):
        org_for_token(app, "rvn_" + "0" * 32 + "_forged")
    async with create_connected_server_and_client_session(build_mcp(app, org_id)) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        assert tools == {"search_runbooks", "list_incidents", "get_timeline", "get_postmortem", "get_patterns"}
        incidents = payload(await client.call_tool("list_incidents", {}))["incidents"]
        assert [(i["id"], i["status"], i["postmortem"]) for i in incidents] == [("INC-1", "closed", "published")]
        assert incidents[0]["title"].startswith("Payments")  # the other org's INC-1 is not visible
        timeline = payload(await client.call_tool("get_timeline", {"incident_ref": "INC-1"}))
        assert timeline["events"][0]["type"] == "IncidentDeclared"
        assert timeline["events"][-1]["data"]["to_status"] == "closed"
        pm = payload(await client.call_tool("get_postmortem", {"incident_ref": "INC-1"}))
        assert pm["status"] == "published" and pm["markdown"].startswith("# Postmortem: INC-1")
        assert set(pm["published"]) == {"knowledge"}
        hits = payload(await client.call_tool("search_runbooks", {"query": "payments connection pool exhausted"}))
        assert hits["results"][0]["kind"] == "postmortem" and "inc-1" in hits["results"][0]["source"]
        missing = await client.call_tool("get_postmortem", {"incident_ref": "INC-2"})
        assert missing.isError and "no incident" in missing.content[0].text


async def test_stdio_command_and_http_bearer_token(published: tuple[App, str, str], tmp_path: Path) -> None:
    app, org_id, token = published
    env = {**os.environ, "REVENANT_DATA_DIR": str(tmp_path), "REVENANT_MCP_TOKEN": token}
    env.pop("REVENANT_DATABASE_URL", None)
    params = StdioServerParameters(command=sys.executable, args=["-c", "from bot.cli import main; main()", "mcp"],
                                   env=env, cwd=str(ROOT))
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        incidents = payload(await session.call_tool("list_incidents", {"open_only": False}))["incidents"]
        assert [i["id"] for i in incidents] == ["INC-1"]
    with ThreadedUvicorn(bearer_guard(build_mcp(app, org_id, stateless_http=True).streamable_http_app(), app,
                                      org_id)) as srv:
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(headers=headers) as http, \
                streamable_http_client(f"{srv.url}/mcp", http_client=http) as (read, write, _), \
                ClientSession(read, write) as session:
            await session.initialize()
            assert payload(await session.call_tool("get_postmortem", {"incident_ref": "INC-1"}))["status"] == \
                "published"
        other = app.directory.issue_token(app.directory.require_org("mcp-other").id)
        async with httpx.AsyncClient() as http:
            for bad in ({}, {"Authorization": f"Bearer {other}"}):
                answer = await http.post(f"{srv.url}/mcp", headers=bad, json={"jsonrpc": "2.0", "id": 1,
                                                                               "method": "tools/list"})
                assert answer.status_code == 401 and "Bearer" in answer.text
