"""Reminders, drafts and publishing results reach the incident's Teams thread, like Slack's channel."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from bot.reminders import tick
from tests.slack.conftest import eventually
from tests.teams.conftest import TeamsWorld


class Later:
    """A clock some minutes ahead of now (the scheduler evaluating a later moment)."""

    def __init__(self, base: datetime, minutes: float) -> None:
        self.at = base + timedelta(minutes=minutes)

    def now(self) -> datetime:
        return self.at


def test_a_status_update_reminder_is_posted_in_the_thread(teams_world: TeamsWorld) -> None:
    w = teams_world
    thread = w.declare("declare Checkout down sev1")
    org = w.app.directory.require_org(w.org_id)
    w.app.directory.update_org_settings(w.org_id, {**org.settings,
                                                   "reminders": {"status_update_minutes": {"SEV1": 30}}})
    later = replace(w.app, deps=replace(w.app.deps, clock=Later(w.app.deps.clock.now(), 31)))
    assert tick(later, use_leader=False) >= 1
    texts = eventually(lambda: [t for t in w.bot_texts(thread) if "update" in t.lower()], what="reminder in thread")
    assert any("INC-1" in t for t in texts)
