"""Slack and Teams from the same core: one script on each gives the same domain events; one incident on both."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.bootstrap import App, bootstrap
from bot.local_server import BackgroundServer
from emulators.bot_connector import BotConnectorEmulator
from emulators.slack import SlackEmulator
from emulators.slack_events import SlackSender
from incident_core.events import Event
from incident_core.model import OrgRole
from tests.slack.conftest import SECRET, SlackWorld, eventually
from tests.teams.conftest import APP_ID, TeamsWorld, make_world, teams_overrides, teams_settings

PLATFORM_FIELDS = {"platform", "channel", "message_id", "thread_id", "room_id", "room_name"}
BACKGROUND = {"system", "revenant"}  # actors of events the outbox subscribers write, not people
SCRIPT = ("status identified bad deploy of checkout", "sev 1", "role scribe @bob", "note rolled back to v412")


@dataclass
class Both:
    app: App
    slack: SlackWorld
    teams: TeamsWorld


@pytest.fixture
def both(db_url: str, tmp_path: Path, connector: BotConnectorEmulator) -> Iterator[Both]:
    """One app serving Slack and Teams: a Slack-only org and a Teams-only org."""
    with SlackEmulator() as slack:
        settings = teams_settings(tmp_path, db_url, authenticated=True, slack_signing_secret=SECRET,
                                  slack_bot_token=slack.bot_token, slack_api_url=slack.api_url)
        app = bootstrap(settings, migrate=db_url.startswith("sqlite"), **teams_overrides(connector, authenticated=True))
        org = app.directory.create_org(f"slack-{uuid.uuid4().hex[:8]}")
        app.directory.bind("slack", slack.team_id, org.id, move=True)
        alice, bob, carol = (slack.create_user(n).id for n in ("alice", "bob", "carol"))
        app.directory.set_role(org.id, f"slack:{alice}", OrgRole.COMMANDER)
        general = slack.channel_by_name("general")
        assert general is not None
        with BackgroundServer(app) as server:
            sender = SlackSender(app_url=server.url, signing_secret=SECRET, slack=slack)
            slack_world = SlackWorld(app=app, slack=slack, sender=sender, org_id=org.id, alice=alice, bob=bob,
                                     carol=carol, general=general.id)
            yield Both(app, slack_world, make_world(app, connector, server.url, app_id=APP_ID))
        app.close()


def normalized(events: list[Event], people: dict[str, str]) -> list[tuple[str, str, dict[str, Any]]]:
    """(type, actor, payload) with platform fields dropped and platform user ids named."""
    def name(value: Any) -> Any:
        return people.get(value, value) if isinstance(value, str) else value

    return [(e.type_name, name(e.actor), {k: name(v) for k, v in e.payload().items() if k not in PLATFORM_FIELDS})
            for e in events]


def settled(app: App, org_id: str) -> list[Event]:
    """INC-1's events once the outbox has delivered everything (its subscribers write events too)."""
    eventually(lambda: app.outbox.pending(org_id) == 0, what="outbox drained")
    state = app.queries.get(org_id, "INC-1")
    assert state is not None
    return app.queries.timeline(org_id, state.incident_id)


def run_on_slack(w: SlackWorld) -> list[Event]:
    def command(user: str, channel: str, text: str) -> None:
        delivery, url = w.sender.command(user, channel, text)
        assert delivery.status == 200, delivery.body
        eventually(lambda: w.slack.responses(url), what=text)

    command(w.alice, w.general, "declare Checkout latency spike sev2")
    room = w.channel_of()
    for text in SCRIPT:
        command(w.alice, room, text.replace("@bob", f"<@{w.bob}|bob>"))
    _, msg = w.sender.message(w.bob, room, "db pool at 198/200")
    eventually(lambda: "ChatMessageCaptured" in w.events(), what="capture")
    w.sender.reaction(w.alice, room, msg["ts"], "+1")
    eventually(lambda: "ReactionAdded" in w.events(), what="reaction")
    war_room = next(m for m in w.slack.messages(room) if m.get("blocks"))
    button = next(e for b in war_room["blocks"] if b["type"] == "actions" for e in b["elements"]
                  if e["action_id"].endswith("_mitigated"))
    w.sender.click(w.alice, room, war_room["ts"], button)
    eventually(lambda: w.incident().status.value == "mitigated", what="button")
    command(w.alice, room, "status resolved error rate back to normal")
    return settled(w.app, w.org_id)


def run_on_teams(w: TeamsWorld) -> list[Event]:
    room = w.declare()
    for text in SCRIPT:
        delivery, _ = w.sender.command(w.alice, room, text.replace("@bob", "@Bob Brown"), mentions=(w.bob,))
        assert delivery.status == 201, delivery.body
    _, msg = w.sender.message(w.bob, room, "db pool at 198/200")
    w.sender.reaction(w.alice, room, msg["id"], "like")
    button = next(a for b in w.card(room)["body"] if b["type"] == "ActionSet" for a in b["actions"]
                  if a["data"].get("status") == "mitigated")
    assert w.sender.execute(w.alice, room, room.split("=", 1)[1], button["verb"], button["data"])[0].status == 200
    w.sender.command(w.alice, room, "status resolved error rate back to normal")
    return settled(w.app, w.org_id)


def test_the_same_script_gives_the_same_domain_events_on_slack_and_teams(both: Both) -> None:
    s, t = both.slack, both.teams
    on_slack = normalized(run_on_slack(s), {f"slack:{s.alice}": "alice", f"slack:{s.bob}": "bob"})
    on_teams = normalized(run_on_teams(t), {t.actor(t.alice): "alice", t.actor(t.bob): "bob"})
    people = [e for e in on_slack if e[1] not in BACKGROUND]
    assert [e[0] for e in people] == ["IncidentDeclared", "StatusChanged", "SeverityChanged", "RoleAssigned",
                                      "NoteAdded", "ChatMessageCaptured", "ReactionAdded", "StatusChanged",
                                      "StatusChanged"]
    assert [e for e in on_teams if e[1] not in BACKGROUND] == people
    # The outbox subscribers' own events (the room, guidance, drafts) interleave by timing; each side opened one room.
    for stream in (on_slack, on_teams):
        assert [e for e in stream if e[0] == "ChatRoomOpened"] == [("ChatRoomOpened", "system", {})]


def test_one_incident_followed_from_both_platforms(both: Both) -> None:
    s, t = both.slack, both.teams
    both.app.directory.bind("slack", s.slack.team_id, t.org_id, move=True)  # the Teams org now uses Slack too
    both.app.directory.set_role(t.org_id, f"slack:{s.alice}", OrgRole.COMMANDER)
    s.org_id = t.org_id
    assert t.sender.install(t.alice, t.general).status == 201  # the app is installed in the team
    assert "@Revenant help" in t.bot_texts(t.general)[-1]
    delivery, url = s.sender.command(s.alice, s.general, "declare Payments timeouts sev2")
    assert delivery.status == 200
    channel, thread = s.channel_of(), t.thread_of()
    assert t.incident().rooms.keys() == {"slack", "teams"}
    button = next(a for b in t.card(thread)["body"] if b["type"] == "ActionSet" for a in b["actions"]
                  if a["data"].get("status") == "identified")
    t.sender.execute(t.alice, thread, thread.split("=", 1)[1], button["verb"], button["data"])
    eventually(lambda: any("identified" in json.dumps(c.get("blocks", "")) and c.get("channel") == channel
                           for c in s.slack.calls("chat.update")), what="Slack war room shows the Teams click")
    _, url = s.sender.command(s.alice, channel, "sev 1")
    eventually(lambda: s.slack.responses(url), what="sev on Slack")
    eventually(lambda: "SEV1" in json.dumps(t.card(thread)), what="Teams card shows the Slack command")
