"""The reminder tick reads only incidents that are due, from the reminder index (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.reminders import tick
from incident_core import usecases as uc
from incident_core.model import Severity
from storage import reminder_ledger
from storage.reminder_ledger import SqlReminderLedger
from tests.conftest import make_app
from tests.postmortem.conftest import outbox_rows
from tests.postmortem.test_reminders import T0, Clock


def test_the_tick_looks_only_at_due_incidents_and_only_in_their_orgs(db_url: str, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    app = make_app(db_url, tmp_path, clock=clock, no_scheduler=True)
    try:
        orgs = [app.directory.create_org(f"rem-{i}-{tmp_path.name[-8:]}").id for i in range(3)]
        incidents = {org: uc.declare_incident(deps=app.deps, org_id=org, actor="u:a", title="Checkout down",
                                              severity=Severity.SEV1).state.incident_id for org in orgs}
        scoped: list[str] = []
        real_look = reminder_ledger.look_batch
        monkeypatch.setattr(reminder_ledger, "look_batch", lambda conn, batch: (
            scoped.extend(org for org, _seqs, _decide in batch), real_look(conn, batch))[1])

        def looked() -> set[str]:
            mine = {o for o in scoped if o in incidents}
            scoped.clear()
            return mine

        clock.at = T0 + timedelta(minutes=1)
        tick(app, use_leader=False)  # new incidents are due a first look
        assert looked() == set(orgs)
        clock.at = T0 + timedelta(minutes=10)
        assert [d for d in SqlReminderLedger(app.engine).due(clock.at) if d[0] in incidents] == []
        tick(app, use_leader=False)
        assert looked() == set()  # nothing due: no transaction for any of these orgs
        a, b, c = orgs
        uc.add_note(deps=app.deps, org_id=b, incident_id=incidents[b], actor="u:a", text="rolled back")
        tick(app, use_leader=False)
        assert looked() == {b}  # the change made it due; the others stay untouched
        clock.at = T0 + timedelta(minutes=31)
        tick(app, use_leader=False)
        assert looked() == {a, c}
        for org in (a, c):
            assert [r.key for r in outbox_rows(app, org, "reminder:status_update")] == [
                f"reminder:status_update:{incidents[org]}:{(T0 + timedelta(minutes=30)).isoformat()}"]
        assert outbox_rows(app, b, "reminder:") == []  # its last update was at +10: due at +40
        clock.at = T0 + timedelta(minutes=41)
        tick(app, use_leader=False)
        assert looked() == {b} and len(outbox_rows(app, b, "reminder:status_update")) == 1
    finally:
        app.close()


def test_one_orgs_failing_look_does_not_hold_back_the_others(db_url: str, tmp_path: Path) -> None:
    clock = Clock()
    app = make_app(db_url, tmp_path, clock=clock, no_scheduler=True)
    try:
        good, bad = (app.directory.create_org(f"look-{n}-{tmp_path.name[-8:]}").id for n in ("good", "bad"))
        ids = {org: uc.declare_incident(deps=app.deps, org_id=org, actor="u:a", title="Down",
                                        severity=Severity.SEV1).state.incident_id for org in (good, bad)}
        ledger = SqlReminderLedger(app.engine)
        due = {o: {i: s} for o, i, s in ledger.due(T0 + timedelta(minutes=1)) if o in ids}

        def fine(_state, _recent):  # type: ignore[no-untyped-def]
            return [], T0 + timedelta(hours=2)

        def broken(_state, _recent):  # type: ignore[no-untyped-def]
            raise ValueError("unreadable state")

        ledger.look([(good, due[good], fine), (bad, due[bad], broken)])
        still = {o for o, _i, _s in ledger.due(T0 + timedelta(minutes=1)) if o in ids}
        assert still == {bad}  # the good org moved on; the bad one stays due for the next tick
    finally:
        app.close()
