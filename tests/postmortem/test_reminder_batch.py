"""The batched reminder look (storage/reminder_look.py): many orgs per transaction, each slot fired once however
many processes tick, a change during the look keeps the incident due, and no org reads or writes another's
rows (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot import reminders
from bot.reminders import tick
from incident_core import usecases as uc
from incident_core.model import Severity
from incident_core.org_settings import OrgSettings
from storage.reminder_ledger import SqlReminderLedger
from tests.conftest import make_app
from tests.postmortem.conftest import outbox_rows
from tests.postmortem.test_reminders import T0, Clock


def _orgs_with_incidents(app, tag: str, n: int) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    """n orgs with one open SEV1 incident each, the last with two; org -> incident ids."""
    orgs: dict[str, list[str]] = {}
    for i in range(n):
        org = app.directory.create_org(f"batch-{tag}-{i}").id
        count = 2 if i == n - 1 else 1
        orgs[org] = [uc.declare_incident(deps=app.deps, org_id=org, actor="u:a", title=f"Down {k}",
                                         severity=Severity.SEV1, check_role=False).state.incident_id
                     for k in range(count)]
    return orgs


def test_two_processes_ticking_in_small_batches_fire_each_slot_once_in_its_own_org(
        db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reminders, "LOOK_BATCH", 4)  # 12 orgs: three transactions per tick
    clock = Clock()
    apps = [make_app(db_url, tmp_path / str(i), clock=clock, no_scheduler=True) for i in range(2)]
    try:
        orgs = _orgs_with_incidents(apps[0], tmp_path.name[-10:], 12)
        clock.at = T0 + timedelta(minutes=1)
        tick(apps[0], use_leader=False)  # the first look at each new incident
        clock.at = T0 + timedelta(minutes=31)
        barrier = threading.Barrier(2)
        fired: list[int] = []
        errors: list[BaseException] = []

        def race(app) -> None:  # type: ignore[no-untyped-def]
            barrier.wait()
            try:
                fired.append(tick(app, use_leader=False))
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=race, args=(a,)) for a in apps]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        slot = (T0 + timedelta(minutes=30)).isoformat()
        for org, incidents in orgs.items():
            rows = outbox_rows(apps[0], org, "reminder:status_update:")
            assert sorted(r.key for r in rows) == sorted(f"reminder:status_update:{i}:{slot}" for i in incidents)
            assert {r.org_id for r in rows} == {org} and {r.payload["incident_id"] for r in rows} == set(incidents)
        ledger = SqlReminderLedger(apps[0].engine)
        mine = {i for incidents in orgs.values() for i in incidents}
        assert not [d for d in ledger.due(T0 + timedelta(minutes=31)) if d[1] in mine]  # moved to the next slot
        assert {d[1] for d in ledger.due(T0 + timedelta(minutes=61))} >= mine
    finally:
        for a in apps:
            a.close()


def test_a_change_during_the_look_keeps_the_incident_due_and_its_slot_fires_once(clocked: tuple, tmp_path: Path) -> None:
    app, clock = clocked
    orgs = _orgs_with_incidents(app, tmp_path.name[-10:], 3)
    clock.at = T0 + timedelta(minutes=1)
    tick(app, use_leader=False)
    ledger = SqlReminderLedger(app.engine)
    at = T0 + timedelta(minutes=31)
    due = {o: {i: s for oo, i, s in ledger.due(at) if oo == o} for o in orgs}
    changed_org = next(iter(orgs))
    changed = orgs[changed_org][0]
    uc.add_note(deps=app.deps, org_id=changed_org, incident_id=changed, actor="u:a", text="still looking")
    clock.at = at
    batch = [(o, seqs, reminders._decide(OrgSettings(), at)) for o, seqs in due.items()]
    written = ledger.look(batch)
    assert {m.payload["incident_id"] for _o, m in written} == {i for ids in orgs.values() for i in ids}
    still = {i for _o, i, _s in ledger.due(at)}
    assert changed in still  # its index row moved on (seq) while the look ran: it stays due
    assert not still & ({i for ids in orgs.values() for i in ids} - {changed})
    assert ledger.look(batch) == []  # the same slot again (a second process's look): nothing more fires


def test_a_batch_never_reads_or_moves_another_orgs_incident(clocked: tuple, tmp_path: Path) -> None:
    app, clock = clocked
    a = next(iter(_orgs_with_incidents(app, tmp_path.name[-10:] + "x", 1)))
    b, (b_incident, _) = next(iter(_orgs_with_incidents(app, tmp_path.name[-10:] + "y", 1).items()))
    ledger = SqlReminderLedger(app.engine)
    at = T0 + timedelta(minutes=31)
    b_seq = next(s for o, i, s in ledger.due(at) if i == b_incident)
    looked: list[str] = []

    def decide(state, recent):  # type: ignore[no-untyped-def]
        looked.append(state.incident_id)
        return reminders._decide(OrgSettings(), at)(state, recent)

    assert ledger.look([(a, {b_incident: b_seq}, decide)]) == []  # org a naming b's incident
    assert looked == []
    assert (b, b_incident, b_seq) in ledger.due(at)  # b's index row untouched
    assert outbox_rows(app, a, "reminder:") == [] and outbox_rows(app, b, "reminder:") == []


@pytest.mark.postgres
def test_on_postgresql_a_batch_is_one_read_and_one_write_however_many_incidents(postgres_url: str,
                                                                                 tmp_path: Path) -> None:
    clock = Clock()
    app = make_app(postgres_url, tmp_path, clock=clock, no_scheduler=True)
    try:
        ledger = SqlReminderLedger(app.engine)
        at = T0 + timedelta(minutes=31)
        statements: list[str] = []
        sa.event.listen(app.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
        counts = []
        for n in (2, 9):
            orgs = _orgs_with_incidents(app, f"{tmp_path.name[-10:]}-{n}", n)
            due = {o: {i: s for oo, i, s in ledger.due(at, limit=100_000) if oo == o} for o in orgs}
            statements.clear()
            written = ledger.look([(o, seqs, reminders._decide(OrgSettings(), at)) for o, seqs in due.items()])
            assert len(written) == n + 1
            counts.append(len(statements))
        assert counts[0] == counts[1] == 2
    finally:
        app.close()
