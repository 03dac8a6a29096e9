"""`revenant demo --teams`: the scripted incident through /api/messages against the Bot Connector emulator.

Everything a Teams user does is a real activity POSTed over HTTP with a Bot Framework token from
the emulator's issuer (the same JWT validation as production); everything the bot says goes to the
emulator, and the demo prints the channel as Teams would show it.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

import click
from pydantic import SecretStr

from bot.bootstrap import App, bootstrap
from bot.demo_slack import wait_for
from bot.local_server import BackgroundServer
from bot.settings import Settings
from emulators.bot_connector import BotConnectorEmulator
from emulators.bot_connector_state import Member
from emulators.bot_credentials import EmulatorCredentialsFactory
from emulators.teams_activities import UNSIGNED, TeamsSender
from handlers.teams.text import humanize
from incident_core.events import Event
from incident_core.model import OrgRole
from incident_core.timeline import describe
from publishers.simulator import SimulatedExecutor

DEMO_APP_ID = "7e1c0a5e-0000-4000-8000-00000000d3m0"
DEMO_SECRET = "emulator-client-secret"  # noqa: S105 — only the local emulator's token endpoint sees it


def run_teams_demo(*, data_dir: str | None = None) -> None:
    """Run the incident from Teams and print the channel, the war-room card and the timeline."""
    started = time.monotonic()
    root = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="revenant-teams-demo-"))
    with BotConnectorEmulator(bot_name="Revenant") as connector:
        settings = Settings(data_dir=root, database_url=None, microsoft_app_id=DEMO_APP_ID,
                            microsoft_app_password=SecretStr(DEMO_SECRET))
        app = bootstrap(settings, executor=SimulatedExecutor(delay_seconds=0.2),
                        teams_auth_settings=connector.bot_auth_settings(DEMO_APP_ID, DEMO_SECRET),
                        teams_credentials_factory=EmulatorCredentialsFactory(connector, DEMO_APP_ID, DEMO_SECRET))
        try:
            with BackgroundServer(app) as server:
                _script(app, connector, TeamsSender(app_url=server.url, connector=connector, app_id=DEMO_APP_ID))
        finally:
            app.close()
    click.echo(f"\ndemo data kept in {root} ({time.monotonic() - started:.1f} s); try\n"
               f"  REVENANT_DATA_DIR={root} .venv/bin/revenant incidents timeline --org acme-demo INC-1")


def _wait(what: str, fn: Callable[[], Any], timeout: float = 15.0) -> Any:
    return wait_for(fn, what, timeout)


def _say(who: Member | str, text: str) -> None:
    click.echo(f"  {who if isinstance(who, str) else who.name.split()[0].lower():<12} {text}")


def _script(app: App, connector: BotConnectorEmulator, teams: TeamsSender) -> None:
    team = connector.create_team("Incident Response", ("General", "incidents"))
    alice, bob, carol, dave = (connector.add_member(n, team_id=team.id)
                               for n in ("Alice Adams", "Bob Brown", "Carol Chen", "Dave Diaz"))
    org = app.directory.create_org("acme-demo")
    app.directory.bind("teams", connector.state.tenant_id, org.id)
    app.directory.update_org_settings(org.id, {"teams": {"incident_channel": team.channels["incidents"]}})
    for member, role in ((alice, OrgRole.COMMANDER), (bob, OrgRole.RESPONDER), (carol, OrgRole.VIEWER),
                         (dave, OrgRole.COMMANDER)):
        app.directory.set_role(org.id, f"teams:{member.aad_object_id}", role, member.name)
    click.echo(f"org acme-demo bound to Teams tenant {connector.state.tenant_id}; bot at {teams.app_url}/api/messages\n")

    general = team.channels["General"]
    denied = teams.post(connector.message_activity(general, "hi", alice, app_id=DEMO_APP_ID), token=UNSIGNED)
    _say("(no token)", f"POST /api/messages without a Bot Framework token → HTTP {denied.status}")
    teams.install(alice, general)
    _say(alice, "installs Revenant in the team")
    teams.command(alice, general, "declare Checkout latency spike sev2")
    _say(alice, "@Revenant declare Checkout latency spike sev2")

    def thread() -> str | None:
        state = app.queries.get(org.id, "INC-1")
        return str(state.rooms["teams"].room_id) if state and "teams" in state.rooms else None

    room = str(_wait("the incident thread", thread))
    root = room.split(";messageid=", 1)[1]
    teams.command(alice, room, "role scribe @Bob Brown", mentions=(bob,))
    _say(alice, "@Revenant role scribe @Bob Brown")
    _, msg = teams.message(bob, room, "db pool at 198/200 since the 09:50 deploy of checkout")
    _say(bob, "db pool at 198/200 since the 09:50 deploy of checkout")
    teams.reaction(alice, room, str(msg["id"]), "📌")
    _say(alice, "reacts 📌 (key moment)")
    teams.command(carol, room, "note +1")
    _say(carol, "@Revenant note +1   (a viewer: refused)")
    teams.command(alice, room, "sev 1")
    _say(alice, "@Revenant sev 1")
    request = {"incident_id": "INC-1", "action": "rollback_deployment",
               "params": {"deployment": "checkout", "namespace": "shop", "current_revision": 7},
               "source": "runbooks/deployment-rollback.md#roll-back"}
    asked = teams.execute(bob, room, root, "action.request", request)[0].json()
    card = asked["value"]
    approve = next(a for a in card["actions"] if a["verb"] == "action.approve")
    _say(bob, f"[Request] roll back checkout → {card['body'][1]['text'][:60]}…")
    own = teams.execute(bob, room, root, approve["verb"], approve["data"])[0].json()
    _say(bob, f"[Approve and run] → refused: {own['value']['message'][:90]}…")
    teams.execute(alice, room, root, approve["verb"], approve["data"])
    _say(alice, "[Approve and run] → runs (simulated)")
    card_now = _wait("the war-room card", lambda: _card(connector, room, root))
    mitigate = next(a for b in card_now["body"] if b["type"] == "ActionSet" for a in b["actions"]
                    if a["data"].get("status") == "mitigated")
    teams.execute(alice, room, root, mitigate["verb"], mitigate["data"])
    _say(alice, "[🔵 Mitigated] on the war-room card")
    teams.command(alice, room, "status resolved error rate back under 0.1% for 15 min")
    _say(alice, "@Revenant status resolved error rate back under 0.1% for 15 min")
    _wait("the card to show resolved", lambda: _status(_card(connector, room, root)).endswith("resolved"))

    click.echo("\nwhat the team sees in Teams:\n")
    for conversation in (general, team.channels["incidents"]):
        click.echo("\n".join("  " + line for line in connector.render_conversation(conversation).splitlines()))
        click.echo("")
    final = app.queries.get(org.id, "INC-1")
    assert final is not None
    click.echo(f"timeline of {final.human_id}:")
    names = app.directory.display_names(org.id)
    events = cast(Sequence[Event], app.queries.timeline(org.id, final.incident_id))  # SqlIncidentQueries.list shadows list
    for event in events:
        who = names.get(event.actor, event.actor)
        click.echo(f"  {event.occurred_at:%H:%M:%S}  {who:<12} {humanize(describe(event), names)}")


def _status(card: dict[str, Any] | None) -> str:
    facts = [f for b in (card or {}).get("body", []) if b.get("type") == "FactSet" for f in b["facts"]]
    return next((str(f["value"]) for f in facts if f["title"] == "Status"), "")


def _card(connector: BotConnectorEmulator, room: str, root: str) -> dict[str, Any] | None:
    found = next((a for a in connector.activities(room) if a.get("id") == root and a.get("attachments")), None)
    return dict(found["attachments"][0]["content"]) if found else None
