"""A room opening looks in Slack for what an earlier attempt made only when an earlier attempt can have made
something (handlers/slack/outbound.py `open_room`): a first opening that created its channel itself skips
conversations.history (war room and announcement), pins.list and bookmarks.list, while a retry after a kill at
any step still finds what was made and ends with one channel, one war-room message, one pin, one announcement.

Real parts: the Slack emulator behind the real slack_sdk client (the app's own adapter, `slack_chat_for`), the
claims and recorded steps on SQLite and PostgreSQL. A "kill" is the process dying between a Slack call and its
step's record: the call happened, its record did not.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.bootstrap import App, bootstrap
from bot.settings import Settings
from bot.slack_chats import slack_chat_for
from emulators.slack import SlackEmulator
from handlers.slack import once
from handlers.slack.outbound import ANNOUNCED, CHANNEL, MESSAGE, PIN
from incident_core import usecases as uc
from incident_core.delivery import Deliveries
from incident_core.model import Severity
from incident_core.rooms import RoomPlan, ensure_room
from incident_core.state import IncidentState
from storage.delivery_steps import SqlDeliveryClaims, SqlDeliverySteps
from tests.outbox_guard import retiring
from tests.slack.conftest import SECRET

LOOKUPS = ("conversations.history", "pins.list", "bookmarks.list")
FIRST_OPENING = Counter({"conversations.create": 1, "conversations.setTopic": 1, "conversations.setPurpose": 1,
                         "conversations.invite": 1, "bookmarks.add": 1, "chat.postMessage": 2, "pins.add": 1})


@dataclass
class Room:
    app: App
    slack: SlackEmulator
    org_id: str
    plan: RoomPlan

    def declare(self, title: str) -> IncidentState:
        return uc.declare_incident(deps=self.app.deps, org_id=self.org_id, actor=self.plan.invitees[0],
                                   title=title, severity=Severity.SEV2).state

    def open(self, state: IncidentState, deliveries: Deliveries | None = None) -> IncidentState:
        """One attempt by a process of its own (a new adapter; the steps read from the database)."""
        chat = slack_chat_for(self.app)(self.org_id)
        assert chat is not None
        return ensure_room(deps=self.app.deps, queries=self.app.queries, chat=chat,
                           deliveries=deliveries or self.app.deliveries, org_id=self.org_id,
                           incident_id=state.incident_id, plan=self.plan)

    def calls(self, since: int) -> Counter[str]:
        return Counter(r.operation for r in self.slack.requests.all()[since:] if r.operation)


@pytest.fixture
def room(db_url: str, tmp_path: Path) -> Iterator[Room]:
    """Token mode on the emulator, no server: nothing delivers the outbox, each test opens the room itself."""
    with retiring(db_url), SlackEmulator() as slack:
        settings = Settings(data_dir=tmp_path, database_url=db_url, slack_signing_secret=SECRET,  # type: ignore[call-arg]
                            slack_bot_token=slack.bot_token, slack_api_url=slack.api_url)
        app = bootstrap(settings, migrate=db_url.startswith("sqlite"))
        try:
            org = app.directory.create_org(f"lookups-{uuid.uuid4().hex[:8]}")
            app.directory.bind("slack", slack.team_id, org.id, move=True)  # emulator team ids repeat across tests
            alice = slack.create_user("alice").id
            general = slack.channel_by_name("general")
            assert general is not None
            plan = RoomPlan(invitees=[f"slack:{alice}"], links=[("Latency dashboard", "https://grafana.example/d/1")],
                            announce_to=general.id)
            yield Room(app, slack, org.id, plan)
        finally:
            app.close()


class Killed(Exception):
    """The process died between a Slack call and the record of its step."""


class Dying(SqlDeliverySteps):
    """The real steps, except that the first record of `step` never happens: the attempt dies instead."""

    def __init__(self, app: App, step: str) -> None:
        super().__init__(app.engine)
        self.step = step

    def record(self, org_id: str, key: str, step: str, value: dict[str, Any]) -> dict[str, Any]:
        if step == self.step:
            raise Killed(f"killed after the call of step {step!r}, before its record")
        return super().record(org_id, key, step, value)


def incident_channels(slack: SlackEmulator) -> list[Any]:
    with slack.lock:
        return [c for c in slack.state.team_channels(slack.team.id) if c.name.startswith("inc-")]


def tagged(slack: SlackEmulator, channel: str, event_type: str) -> list[dict[str, Any]]:
    return [m for m in slack.messages(channel) if (m.get("metadata") or {}).get("event_type") == event_type]


def assert_opened_once(r: Room, state: IncidentState) -> None:
    """One channel, one war-room message (pinned, recorded), one bookmark, one announcement."""
    channels = incident_channels(r.slack)
    assert len(channels) == 1
    channel = channels[0].id
    war_rooms = tagged(r.slack, channel, once.WAR_ROOM)
    assert len(war_rooms) == 1
    with r.slack.lock:
        assert sum(1 for m in r.slack.channel(channel).messages if m.pinned_by) == 1
    assert len(r.slack.calls("bookmarks.add")) == 1 and len(r.slack.calls("pins.add")) == 1
    assert plan_announcements(r) == 1
    room = state.rooms["slack"]
    assert (room.room_id, room.message_id) == (channel, war_rooms[0]["ts"])


def plan_announcements(r: Room) -> int:
    assert r.plan.announce_to is not None
    return len(tagged(r.slack, r.plan.announce_to, once.ANNOUNCEMENT))


def test_a_first_opening_makes_no_lookup_in_the_channel_it_created(room: Room) -> None:
    state = room.declare("Checkout latency")
    slack_chat_for(room.app)(room.org_id)  # the adapter's own first calls (auth.test in token mode) aside
    since = len(room.slack.requests.all())
    opened = room.open(state)
    calls = room.calls(since)
    assert not any(calls[m] for m in LOOKUPS), calls
    assert calls == FIRST_OPENING  # 8 calls; looking first made 12 (history ×2, pins.list, bookmarks.list)
    assert_opened_once(room, opened)


def test_an_opening_that_finds_its_channel_made_earlier_still_looks(room: Room) -> None:
    """The channel was created by an attempt that died before recording it: this attempt finds it by name
    (conversations.create answers name_taken) and looks before each post, pin and bookmark."""
    state = room.declare("Found channel")
    with pytest.raises(Killed):
        room.open(state, Deliveries(Dying(room.app, CHANNEL), SqlDeliveryClaims(room.app.engine)))
    since = len(room.slack.requests.all())
    opened = room.open(state)
    calls = room.calls(since)
    assert calls["conversations.history"] == 2 and calls["pins.list"] == 1 and calls["bookmarks.list"] == 1, calls
    assert_opened_once(room, opened)


@pytest.mark.parametrize("killed_after", [CHANNEL, MESSAGE, PIN, ANNOUNCED])
def test_a_retry_after_a_kill_at_any_step_makes_nothing_twice(room: Room, killed_after: str) -> None:
    state = room.declare(f"Killed after {killed_after}")
    with pytest.raises(Killed):
        room.open(state, Deliveries(Dying(room.app, killed_after), SqlDeliveryClaims(room.app.engine)))
    assert "slack" not in (room.app.queries.get(room.org_id, state.incident_id) or state).rooms
    opened = room.open(state)
    assert_opened_once(room, opened)
    again = room.open(state)  # the room is recorded: a third delivery changes nothing in Slack
    assert again.rooms == opened.rooms
    assert_opened_once(room, again)
