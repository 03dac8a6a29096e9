"""A burst of changes to one incident refreshes its war room far fewer times than it changed, and the last
refresh shows the final state, also when Slack rate-limits chat.update in the middle (real subscribers, the
real outbox and the Slack emulator; SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.bootstrap import App, bootstrap
from bot.settings import Settings
from bot.worker import deliver_once
from emulators.slack import SlackEmulator
from incident_core.intake import intake_signals
from tests.insights.history import signal

SECRET = "burst-signing-secret"
T0 = datetime.now(UTC) - timedelta(hours=1)


@pytest.fixture
def world(db_url: str, tmp_path: Path, slack: SlackEmulator) -> Iterator[tuple[App, str]]:
    settings = Settings(data_dir=tmp_path, database_url=db_url, slack_signing_secret=SECRET,  # type: ignore[call-arg]
                        slack_bot_token=slack.bot_token, slack_api_url=slack.api_url)
    app = bootstrap(settings, migrate=db_url.startswith("sqlite"))
    org = app.directory.create_org(f"burst-{uuid.uuid4().hex[:8]}")
    app.directory.bind("slack", slack.team_id, org.id, move=True)
    app.directory.update_org_settings(org.id, {"slack": {"auto_channel": True}})
    yield app, org.id
    app.close()


def alert(app: App, org_id: str, n: int) -> str:
    """Alert n of one ongoing trouble (checkout's HighLatency): each with its own fingerprint and title."""
    at = T0 + timedelta(seconds=n)
    sig = replace(signal(org_id, 0, at, service="checkout", alert="HighLatency"), title=f"checkout slow ({n})")
    outcome = intake_signals(deps=app.deps, org_id=org_id, signals=[sig])[0]
    assert outcome.incident_id is not None
    return str(outcome.incident_id)


def drain(app: App, org_id: str) -> None:
    for _ in range(20):
        if app.outbox.pending(org_id) == 0:
            return
        deliver_once(app)
    assert app.outbox.pending(org_id) == 0


def war_room(slack: SlackEmulator, channel: str) -> list[str]:
    """The "Latest signals" section of every war-room post and update the channel accepted, in order."""
    calls = sorted(((r.at, r.body) for m in ("chat.postMessage", "chat.update") for r in slack.requests.filter(m)
                    if r.status == 200 and isinstance(r.body, dict) and r.body.get("channel") == channel),
                   key=lambda c: c[0])
    out = []
    for _, body in calls:
        blocks = json.loads(body["blocks"]) if isinstance(body.get("blocks"), str) else body.get("blocks") or []
        out += [b["text"]["text"] for b in blocks if isinstance(b.get("text"), dict)
                and str(b["text"].get("text", "")).startswith("*Latest signals*")]
    return out


def room_of(app: App, org_id: str, incident_id: str) -> str:
    state = app.queries.get(org_id, incident_id)
    assert state is not None and "slack" in state.rooms
    return str(state.rooms["slack"].room_id)


def shows(text: str, n: int) -> bool:
    """The war room lists signal n as the newest (it lists the latest five, newest first)."""
    return text.split("\n")[1].endswith(f"checkout slow ({n}) (generic, firing)")


def test_fifty_changes_refresh_the_war_room_once_with_the_final_state(world: tuple[App, str],
                                                                     slack: SlackEmulator) -> None:
    app, org = world
    incident = alert(app, org, 0)
    drain(app, org)  # the room opens with its war-room message
    channel = room_of(app, org, incident)
    updates = len(slack.calls("chat.update"))
    for n in range(1, 51):
        assert alert(app, org, n) == incident
    drain(app, org)
    refreshes = len(slack.calls("chat.update")) - updates
    assert 1 <= refreshes <= 2  # 50 changes waiting: one refresh renders them all
    assert shows(war_room(slack, channel)[-1], 50)


def test_a_rate_limit_in_the_middle_of_a_burst_still_ends_with_the_final_state(world: tuple[App, str],
                                                                              slack: SlackEmulator) -> None:
    app, org = world
    incident = alert(app, org, 0)
    drain(app, org)
    channel = room_of(app, org, incident)
    for n in range(1, 26):
        alert(app, org, n)
    fault = slack.inject("chat.update", status=429, retry_after=1, times=1)
    drain(app, org)  # the 429 is waited out (Retry-After), or the outbox retries the refresh
    for n in range(26, 51):
        alert(app, org, n)
    drain(app, org)
    assert fault.exhausted  # Slack did answer 429 mid-burst
    assert len(slack.calls("chat.update")) < 10
    assert shows(war_room(slack, channel)[-1], 50)

