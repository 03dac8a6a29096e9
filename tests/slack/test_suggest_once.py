"""`/revenant suggest` right after the room's own offer: one suggestions message, not two identical ones.

Signed Slack requests in, the Slack emulator out, real HTTP, SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.slack.conftest import SlackWorld, eventually
from tests.slack.test_suggestions import DEMO, alert, guidance_posts, hook


class MovableClock:
    """The system clock, moved on by the test to stand for minutes passing."""

    def __init__(self) -> None:
        self.ahead = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.ahead


@pytest.fixture
def slack_overrides() -> dict[str, Any]:
    return {"executor_delay": 0, "clock": MovableClock()}


def answer_to_suggest(w: SlackWorld, channel: str) -> str:
    delivery, url = w.sender.command(w.alice, channel, "suggest")
    assert delivery.status == 200
    return str(eventually(lambda: w.slack.responses(url), what="suggest answer")[0]["text"])


def test_suggest_right_after_the_room_opened_posts_no_second_identical_message(slack_world: SlackWorld) -> None:
    w = slack_world
    w.app.knowledge.ingest(DEMO, w.org_id)
    w.app.directory.update_org_settings(w.org_id, {"slack": {"auto_channel": True}})
    assert hook(w, w.app.directory.issue_token(w.org_id), alert()) == 202
    channel = w.channel_of()
    eventually(lambda: guidance_posts(w, channel), what="guidance when the room opened")
    text = answer_to_suggest(w, channel)
    assert "just posted" in text and "still current" in text
    eventually(lambda: w.app.outbox.pending(w.org_id) == 0, what="outbox delivered")
    assert len(guidance_posts(w, channel)) == 1 and w.events().count("GuidanceOffered") == 1
    # Asked again once the moment has passed, the same suggestions are posted again (a refresh on request).
    clock = w.app.deps.clock
    assert isinstance(clock, MovableClock)
    clock.ahead = timedelta(minutes=5)
    assert "posted in the thread" in answer_to_suggest(w, channel)
    eventually(lambda: len(guidance_posts(w, channel)) == 2, what="the refresh asked for")
    assert w.events().count("GuidanceOffered") == 2
