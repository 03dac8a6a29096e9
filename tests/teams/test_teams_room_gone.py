"""A Teams incident thread whose channel was deleted: notices and war-room refreshes end as skipped (the Bot
Connector answers 404 ConversationNotFound for good), instead of being retried until they are dead letters."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest

from bot.reminders import tick
from storage.outbox_admin import SqlOutboxAdmin
from tests.slack.conftest import eventually
from tests.teams.conftest import TeamsWorld
from tests.teams.test_teams_notices import Later


def test_a_notice_for_a_deleted_channel_is_skipped_not_retried(teams_world: TeamsWorld,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    w = teams_world
    caplog.set_level(logging.INFO)
    thread = w.declare("declare Checkout down sev1")
    eventually(lambda: w.app.outbox.pending(w.org_id) == 0, what="the thread opened")
    org = w.app.directory.require_org(w.org_id)
    w.app.directory.update_org_settings(w.org_id, {**org.settings,
                                                   "reminders": {"status_update_minutes": {"SEV1": 30}}})
    w.connector.delete_channel(w.incidents)
    later = replace(w.app, deps=replace(w.app.deps, clock=Later(w.app.deps.clock.now(), 31)))
    assert tick(later, use_leader=False) >= 1  # a status-update reminder is due
    eventually(lambda: any("skipped" in r.getMessage() for r in caplog.records), what="the notice skipped")
    eventually(lambda: w.app.outbox.pending(w.org_id) == 0, what="every delivery done, none left to retry")
    assert SqlOutboxAdmin(w.app.engine).dead_letters(w.org_id) == []
    skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert any("notice for INC-1" in m and "channel was deleted" in m and thread in m for m in skipped), skipped
    assert not any("reminder" in t.lower() or "update" in t.lower() for t in w.bot_texts(thread)[1:])
