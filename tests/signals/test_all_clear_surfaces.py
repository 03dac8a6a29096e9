"""Where the all clear shows: `incidents show/list`, the war room on Slack and Teams, the timeline."""

from __future__ import annotations

import copy
import json

from click.testing import CliRunner

from bot.cli import CliContext, incidents
from handlers.slack.blocks import war_room as slack_war_room
from handlers.teams.cards import war_room as teams_war_room
from incident_core import warroom
from tests.handlers.conftest import Server
from tests.signals.vendor_corpus import load


def cli(server: Server, *args: str) -> str:
    ctx = CliContext()
    ctx._app = server.app  # the server's composition root: same database, same clock
    result = CliRunner().invoke(incidents, list(args), obj=ctx)
    assert result.exit_code == 0, result.output
    return result.output


async def _all_clear(server: Server) -> str:
    org_id, token = server.org()
    await server.post("alertmanager", copy.deepcopy(load("alertmanager", "crashloop_shop")["payload"]), token)
    await server.post("alertmanager", copy.deepcopy(load("alertmanager", "crashloop_shop_resolved")["payload"]), token)
    return org_id


async def test_incidents_show_json_carries_all_clear(server: Server) -> None:
    org_id = await _all_clear(server)
    shown = json.loads(cli(server, "show", "--org", org_id, "INC-1", "--json"))
    assert shown["all_clear"] is True and shown["all_clear_at"].startswith("2026-11-27T09:00")
    assert "all clear" in cli(server, "list", "--org", org_id)
    assert "all clear: since" in cli(server, "show", "--org", org_id, "INC-1")
    timeline = json.loads(cli(server, "timeline", "--org", org_id, "INC-1", "--json"))
    assert [e["type"] for e in timeline][-2:] == ["SignalResolved", "AllClearReached"]
    assert timeline[-1]["data"]["reason"] == "its only firing signal resolved"


async def test_incident_without_all_clear_says_false(server: Server) -> None:
    org_id, token = server.org()
    await server.post("alertmanager", copy.deepcopy(load("alertmanager", "crashloop_shop")["payload"]), token)
    assert json.loads(cli(server, "show", "--org", org_id, "INC-1", "--json"))["all_clear"] is False


async def test_war_room_shows_all_clear_with_the_one_click_moves_on_both_platforms(server: Server) -> None:
    org_id = await _all_clear(server)
    state = server.app.queries.get(org_id, "INC-1")
    assert state is not None
    view = warroom.build(state, server.clock.now())
    assert view.all_clear and view.all_clear.startswith("All clear since 09:00 UTC")
    blocks = slack_war_room(view)
    assert "All clear since 09:00 UTC" in json.dumps(blocks)
    buttons = [json.loads(e["value"]).get("s") for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert {"mitigated", "resolved"} <= set(buttons)
    card = json.dumps(teams_war_room(view))
    assert "All clear since 09:00 UTC" in card
    assert '"status": "mitigated"' in card and '"status": "resolved"' in card


async def test_auto_resolve_after_resolves_once_with_the_reason(server: Server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from bot.org_config import apply_org_config
    from bot.reminders import tick

    org_id, token = server.org()
    (tmp_path / "org.yaml").write_text("routing:\n  default_project: shop\n  projects:\n"
                                       "    - name: shop\n      auto_resolve_after_minutes: 15\n")
    apply_org_config(server.app, org_id, tmp_path / "org.yaml")
    await server.post("alertmanager", copy.deepcopy(load("alertmanager", "crashloop_shop")["payload"]), token)
    await server.post("alertmanager", copy.deepcopy(load("alertmanager", "crashloop_shop_resolved")["payload"]), token)
    server.clock.advance(minutes=14)
    tick(server.app, use_leader=False)
    state = server.app.queries.get(org_id, "INC-1")
    assert state is not None and state.status.value == "triggered", "not yet: 14 of 15 minutes"
    server.clock.advance(minutes=2)
    tick(server.app, use_leader=False)
    tick(server.app, use_leader=False)
    state = server.app.queries.get(org_id, "INC-1")
    assert state is not None and state.status.value == "resolved"
    changes = [e for e in server.app.queries.timeline(org_id, state.incident_id) if e.type_name == "StatusChanged"]
    assert len(changes) == 1 and changes[0].actor == "system:auto-resolve"
    assert "auto_resolve_after is 15 min" in changes[0].note and "its only firing signal resolved" in changes[0].note


async def test_without_auto_resolve_after_an_all_clear_incident_waits_for_a_person(server: Server) -> None:
    from bot.reminders import tick

    org_id = await _all_clear(server)
    server.clock.advance(days=2)
    tick(server.app, use_leader=False)
    state = server.app.queries.get(org_id, "INC-1")
    assert state is not None and state.status.value == "triggered"
