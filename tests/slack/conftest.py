"""The whole app served on loopback with Slack configured against the Slack emulator."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bot.bootstrap import App, bootstrap
from bot.local_server import BackgroundServer
from bot.settings import Settings
from emulators.slack import SlackEmulator
from emulators.slack_events import SlackSender
from incident_core.model import OrgRole

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
T = TypeVar("T")


def eventually(fn: Callable[[], T], *, timeout: float = 30.0, what: str = "condition") -> T:
    """Poll until fn() returns something truthy (lazy listeners and the outbox run in the background)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = fn()
            if last:
                return last
        except AssertionError as exc:
            last = exc
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; last value: {last!r}")


@dataclass
class SlackWorld:
    app: App
    slack: SlackEmulator
    sender: SlackSender
    org_id: str
    alice: str
    bob: str
    carol: str
    general: str

    def incident(self, ref: str = "INC-1") -> Any:
        return self.app.queries.get(self.org_id, ref)

    def channel_of(self, ref: str = "INC-1", timeout: float = 30.0) -> str:
        state = eventually(lambda: (s := self.incident(ref)) and "slack" in s.rooms and s, what=f"{ref} channel",
                           timeout=timeout)
        return state.rooms["slack"].room_id

    def events(self, ref: str = "INC-1") -> list[str]:
        state = self.incident(ref)
        return [e.type_name for e in self.app.queries.timeline(self.org_id, state.incident_id)] if state else []


@pytest.fixture
def slack() -> Iterator[SlackEmulator]:
    with SlackEmulator() as emulator:
        yield emulator


@pytest.fixture
def slack_overrides() -> dict[str, Any]:
    """Extra bootstrap overrides for the Slack world; a test module may override this fixture."""
    return {}


@pytest.fixture
def slack_world(db_url: str, tmp_path: Path, slack: SlackEmulator,
                slack_overrides: dict[str, Any]) -> Iterator[SlackWorld]:
    settings = Settings(data_dir=tmp_path, database_url=db_url, slack_signing_secret=SECRET,  # type: ignore[call-arg]
                        slack_bot_token=slack.bot_token, slack_api_url=slack.api_url)
    app = bootstrap(settings, migrate=db_url.startswith("sqlite"), **slack_overrides)
    import uuid

    org = app.directory.create_org(f"slack-{uuid.uuid4().hex[:8]}")
    app.directory.bind("slack", slack.team_id, org.id, move=True)  # emulator team ids repeat across tests
    alice, bob, carol = (slack.create_user(n).id for n in ("alice", "bob", "carol"))
    app.directory.set_role(org.id, f"slack:{alice}", OrgRole.COMMANDER)
    app.directory.set_role(org.id, f"slack:{carol}", OrgRole.VIEWER)
    general = slack.channel_by_name("general")
    assert general is not None
    with BackgroundServer(app) as server:
        sender = SlackSender(app_url=server.url, signing_secret=SECRET, slack=slack)
        yield SlackWorld(app=app, slack=slack, sender=sender, org_id=org.id, alice=alice, bob=bob, carol=carol,
                         general=general.id)
    app.close()
