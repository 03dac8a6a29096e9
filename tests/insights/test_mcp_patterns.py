"""The MCP tool `get_patterns`: one org's patterns, by that org's token only; bad periods are tool errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from mcp.shared.memory import create_connected_server_and_client_session

from bot.bootstrap import App
from bot.mcp_server import build_mcp, org_for_token
from tests.conftest import make_app
from tests.insights.history import StepClock, seed


@pytest.fixture
def two_orgs(tmp_path: Path) -> Iterator[tuple[App, str, str]]:
    now = datetime.now(UTC)
    clock = StepClock(now)
    app = make_app(f"sqlite:///{tmp_path / 'revenant.db'}", tmp_path, clock=clock)
    mine, theirs = app.directory.create_org("mcp-mine"), app.directory.create_org("mcp-theirs")
    seed(app, clock, mine.id, 12, now=now - timedelta(hours=1))
    seed(app, clock, theirs.id, 40, now=now - timedelta(hours=1))
    clock.at = now
    try:
        yield app, mine.id, app.directory.issue_token(mine.id)
    finally:
        app.close()


def payload(result: Any) -> dict[str, Any]:
    assert not result.isError, result.content
    return dict(json.loads(result.content[0].text))


async def test_get_patterns_reads_the_token_org_only(two_orgs: tuple[App, str, str]) -> None:
    app, org_id, token = two_orgs
    server = build_mcp(app, org_for_token(app, token))
    async with create_connected_server_and_client_session(server._mcp_server) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        assert "get_patterns" in tools
        report = payload(await client.call_tool("get_patterns", {"since": "30d"}))
        assert report["incidents"] == 12  # the other org's 40 are never counted
        assert {p["key"]: p["count"] for p in report["patterns"]}["alertname+service=DBConnections/payments"] == 3
        checkout = payload(await client.call_tool("get_patterns", {"service": "checkout", "since": "30d"}))
        assert checkout["incidents"] == 3 and checkout["service"] == "checkout"
        bad = await client.call_tool("get_patterns", {"since": "forever"})
        assert bad.isError and "30d" in bad.content[0].text
        missing = await client.call_tool("get_patterns", {"project": "nope"})
        assert missing.isError and "no project" in missing.content[0].text
