"""Opening a Slack room happens once, whatever fails on the way (faults injected through the emulator's hooks).

pins.add failing more often than the client retries, setPurpose failing after the channel exists, and a
chat.postMessage whose answer arrives after the client stopped waiting: each time the outbox retries the
room, and the room ends with one channel, one war-room message, one pin and one announcement.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from emulators.slack import SlackEmulator
from handlers.slack import once
from incident_core.delivery_policy import RetryPolicy
from tests.slack.conftest import SlackWorld


@pytest.fixture
def slack_overrides() -> dict[str, Any]:
    """Retries come quickly here (the faults below fail up to four attempts in a row); the policy's
    schedule itself is tested in tests/storage/test_outbox_deliveries.py."""
    return {"delivery_policy": RetryPolicy(base=timedelta(milliseconds=200), cap=timedelta(seconds=1))}


@pytest.fixture
def short_slack_timeout(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The outbound client gives up after 2 s (the lagged answers below take 4 s)."""
    monkeypatch.setenv("REVENANT_SLACK_TIMEOUT", "2")
    yield


def incident_channels(slack: SlackEmulator) -> list[str]:
    with slack.lock:
        return [c.name for c in slack.state.team_channels(slack.team.id) if c.name.startswith("inc-")]


def tagged(slack: SlackEmulator, channel: str, event_type: str) -> list[dict[str, Any]]:
    return [m for m in slack.messages(channel) if (m.get("metadata") or {}).get("event_type") == event_type]


def bot_posts(slack: SlackEmulator, channel: str, containing: str = "") -> list[dict[str, Any]]:
    """Top-level messages the bot posted in the channel (thread replies and join/topic notices aside)."""
    return [m for m in slack.messages(channel) if m.get("user") == slack.bot_user_id and not m.get("parent_user_id")
            and containing in m.get("text", "")]


def pins(slack: SlackEmulator, channel: str) -> int:
    with slack.lock:
        return sum(1 for m in slack.channel(channel).messages if m.pinned_by)


def declare_and_open(w: SlackWorld, title: str) -> str:
    """Declare from #general with announcements there; wait for the room to be recorded."""
    w.app.directory.update_org_settings(w.org_id, {"slack": {"announce_channel": w.general}})
    delivery, _ = w.sender.command(w.alice, w.general, f"declare {title} sev2")
    assert delivery.status == 200
    return w.channel_of(timeout=60)


def assert_opened_once(w: SlackWorld, channel: str) -> None:
    assert incident_channels(w.slack) == [w.slack.channel(channel).name]
    assert len(bot_posts(w.slack, channel)) == 1
    assert len(tagged(w.slack, channel, once.WAR_ROOM)) == 1
    assert pins(w.slack, channel) == 1
    assert len(bot_posts(w.slack, w.general, "Join")) == 1
    assert len(tagged(w.slack, w.general, once.ANNOUNCEMENT)) == 1
    state = w.incident()
    assert state.rooms["slack"].message_id == tagged(w.slack, channel, once.WAR_ROOM)[0]["ts"]


def test_pins_add_failing_past_the_client_retries_pins_the_first_message_on_the_retry(slack_world: SlackWorld) -> None:
    w = slack_world
    w.slack.inject("pins.add", status=500, times=4)  # the client retries 5xx three times: all four fail
    channel = declare_and_open(w, "Pins fail")
    assert len(w.slack.requests.filter("pins.add")) == 5
    assert_opened_once(w, channel)


def test_set_purpose_failing_after_the_channel_exists_reuses_that_channel(slack_world: SlackWorld) -> None:
    w = slack_world
    w.slack.inject("conversations.setPurpose", status=500, times=4)
    channel = declare_and_open(w, "Purpose fails")
    assert len(w.slack.requests.filter("conversations.create")) == 1
    assert "[revenant:" in w.slack.channel(channel).purpose.value
    assert_opened_once(w, channel)


def test_a_war_room_message_answered_after_the_client_timeout_is_found_not_posted_again(
        short_slack_timeout: None, slack_world: SlackWorld) -> None:
    w = slack_world
    w.slack.inject("chat.postMessage", lag=4)  # served, then answered too late: the worker never sees its ts
    # The first chat.postMessage of the flow is the war-room message: the declare answers on its response_url.
    channel = declare_and_open(w, "Answer lost")
    assert_opened_once(w, channel)


def test_a_pin_answered_after_the_client_timeout_is_found_not_added_again(short_slack_timeout: None, slack_world: SlackWorld) -> None:
    w = slack_world
    w.slack.inject("pins.add", lag=4)  # the pin lands, its answer is lost; the retry finds it in pins.list
    channel = declare_and_open(w, "Pin answer lost")
    assert_opened_once(w, channel)
