"""The pattern-key index writes only the rows that change (storage/pattern_index.py): after every append its rows
are what a full recompute of the state gives, a row whose values stay is not written (not even when the process
does not know the state before), and the recurrence watcher's marks are cleared exactly on the rows that change,
so a changed key set, project or resolution is checked again. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from bot.bootstrap import App
from incident_core import usecases as uc
from incident_core.commands import AttachSignal
from incident_core.intake import intake_signals
from incident_core.model import Status
from incident_core.recurrence import signature
from incident_core.signals import Signal, SignalKind, SignalSeverity, SignalStatus, correlation_keys_for
from incident_core.state import IncidentState
from storage.engine import is_postgres, scope_to_org
from storage.insights_queries import SqlIncidentHistory
from storage.pattern_index import PATTERNS, pattern_rows, pg_statements, project_patterns
from storage.projections import rebuild, snapshot
from tests.conftest import make_app
from tests.insights.history import RESPONDER, StepClock

TRACE = "trace-patidx"


def _signal(org_id: str, at: datetime, alert: str, service: str | None) -> Signal:
    """An alert sharing one trace id with the incident, so it joins it whatever its alert and service."""
    fingerprint = f"fp-{alert}-{service}-{at.timestamp():.0f}"
    return Signal(org_id=org_id, project_id=None, source="generic", kind=SignalKind.ALERT,
                  status=SignalStatus.FIRING, severity=SignalSeverity.ERROR, service=service,
                  title=f"{alert} on {service}", fingerprint=fingerprint, starts_at=at,
                  correlation_keys=correlation_keys_for(fingerprint=fingerprint, service=service, alertname=alert,
                                                        trace_id=TRACE))


def _rows(app: App, org_id: str) -> list[dict[str, object]]:
    """The org's index rows, `checked` included, times in UTC."""
    with app.engine.begin() as conn:
        scope_to_org(conn, org_id)
        rows = conn.execute(sa.select(PATTERNS).where(PATTERNS.c.org_id == org_id)
                            .order_by(PATTERNS.c.incident_id, PATTERNS.c.key))
        return [{k: v.astimezone(UTC) if isinstance(v, datetime) else v for k, v in r._mapping.items()}
                for r in rows]


def _recomputed(state: IncidentState) -> list[dict[str, object]]:
    """The rows a full recompute of the state gives (without the watcher's mark)."""
    return sorted(({k: v.astimezone(UTC) if isinstance(v, datetime) else v for k, v in r.items()}
                   for r in pattern_rows(state)), key=lambda r: str(r["key"]))


def _without_marks(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    return [{k: v for k, v in r.items() if k != "checked"} for r in rows]


def _write_counter(app: App, org_id: str) -> Callable[[], object]:
    """Something that changes whenever a row of the org's index is inserted, updated or deleted.

    PostgreSQL: each row's version (xmin, ctid), which any write replaces (an upsert that skips a row only locks
    it). SQLite: a count kept by triggers in the test's own database file."""
    if is_postgres(app.engine):
        def versions() -> object:
            with app.engine.begin() as conn:
                scope_to_org(conn, org_id)
                return sorted(tuple(r) for r in conn.execute(sa.text(
                    "SELECT incident_id, key, xmin::text, ctid::text FROM incident_patterns WHERE org_id = :o"),
                    {"o": org_id}))
        return versions
    with app.engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE pattern_writes (what TEXT)"))
        for what in ("INSERT", "UPDATE", "DELETE"):
            conn.execute(sa.text(f"CREATE TRIGGER pattern_{what.lower()} AFTER {what} ON incident_patterns "
                                 f"BEGIN INSERT INTO pattern_writes VALUES ('{what}'); END"))

    def count() -> object:
        with app.engine.begin() as conn:
            return dict(conn.execute(sa.text("SELECT what, count(*) FROM pattern_writes GROUP BY what")).all())
    return count


def _write(app: App, state: IncidentState) -> None:
    """Write the state's index rows as an append does on this database, in a transaction of its own."""
    with app.engine.begin() as conn:
        scope_to_org(conn, state.org_id)
        if is_postgres(conn):
            for sql, params in pg_statements(state):
                conn.exec_driver_sql(sql, params)
        else:
            project_patterns(conn, state)


def test_rows_follow_each_append_as_a_full_recompute_gives(clocked: tuple[App, StepClock]) -> None:
    app, clock = clocked
    org = app.directory.create_org("patidx-appends").id
    at = clock.at

    def attach(alert: str, service: str | None) -> IncidentState:
        nonlocal at
        at += timedelta(minutes=3)
        clock.at = at
        outcome = intake_signals(deps=app.deps, org_id=org, signals=[_signal(org, at, alert, service)])[0]
        return _current(outcome.incident_id)

    def status(new: Status) -> IncidentState:
        nonlocal at
        at += timedelta(minutes=3)
        clock.at = at
        uc.change_status(deps=app.deps, org_id=org, incident_id=incident, actor=RESPONDER, status=new)
        return _current(incident)

    def _current(incident_id: object) -> IncidentState:
        state = app.queries.get(org, str(incident_id))
        assert state is not None
        return state

    first = attach("HighLatency", "checkout")
    incident = first.incident_id
    steps: list[tuple[str, Callable[[], IncidentState]]] = [
        ("a bare alert adds a key", lambda: attach("Bare", None)),
        ("the same alert scoped to a service replaces the bare key", lambda: attach("Bare", "checkout")),
        ("another service adds two keys", lambda: attach("DiskFull", "payments")),
        ("the same alert again changes nothing", lambda: attach("DiskFull", "payments")),
        ("resolved", lambda: status(Status.RESOLVED)),
        ("reopened", lambda: status(Status.INVESTIGATING)),
        ("a late alert while open again", lambda: attach("QueueDepth", "checkout")),
        ("resolved again (the first resolution stays)", lambda: status(Status.RESOLVED)),
    ]
    seen = [_recomputed(first)]
    assert _without_marks(_rows(app, org)) == seen[-1]
    for what, step in steps:
        state = step()
        assert state.incident_id == incident, what
        assert _without_marks(_rows(app, org)) == _recomputed(state), what
        seen.append(_recomputed(state))
    keys = {str(r["key"]) for r in seen[-1]}
    assert "alertname=Bare" in {str(r["key"]) for r in seen[1]} and "alertname=Bare" not in keys  # dropped
    assert {"alertname+service=Bare/checkout", "service=payments", "alertname+service=QueueDepth/checkout"} <= keys
    assert seen[-1][0]["resolved_at"] is not None and seen[4][0]["resolved_at"] is None
    before = snapshot(app.engine, org)
    rebuild(app.engine, org_ids=[org])  # the replay gives the same rows as the appends wrote
    assert snapshot(app.engine, org) == before


def test_a_state_with_the_same_rows_writes_nothing_even_when_the_state_before_is_unknown(
        clocked: tuple[App, StepClock], tmp_path: Path) -> None:
    app, clock = clocked
    org = app.directory.create_org("patidx-unchanged").id
    opened = intake_signals(deps=app.deps, org_id=org, signals=[_signal(org, clock.at, "HighLatency", "checkout")])[0]
    incident = str(opened.incident_id)
    history = SqlIncidentHistory(app.engine)
    state = app.queries.get(org, incident)
    assert state is not None
    history.mark_recurrence_checked(org, incident, signature(state))
    writes = _write_counter(app, org)
    written = writes()
    clock.at += timedelta(minutes=5)
    again = intake_signals(deps=app.deps, org_id=org, signals=[_signal(org, clock.at, "HighLatency", "checkout")])[0]
    assert again.incident_id == incident
    assert writes() == written  # the same alert again: nothing written
    # Another process (an empty state cache) does not know the state before, so it sends the index's writes;
    # they find every row as it should be and write none (the old rewrite deleted and inserted them all).
    other = make_app(app.engine.url.render_as_string(hide_password=False), tmp_path / "other",
                     clock=StepClock(clock.at + timedelta(minutes=5)))
    try:
        later = intake_signals(deps=other.deps, org_id=org,
                               signals=[_signal(org, clock.at + timedelta(minutes=5), "HighLatency", "checkout")])[0]
    finally:
        other.close()
    assert later.incident_id == incident
    assert writes() == written
    assert not history.recurrence_unchecked(org, incident)  # nothing changed: the check still stands
    state = app.queries.get(org, incident)
    assert state is not None
    _write(app, state)  # the same rows written again directly: nothing either
    assert writes() == written


def test_only_changed_rows_are_written_and_they_lose_the_watcher_mark(clocked: tuple[App, StepClock]) -> None:
    app, clock = clocked
    org = app.directory.create_org("patidx-marks").id
    incident = str(intake_signals(deps=app.deps, org_id=org,
                                  signals=[_signal(org, clock.at, "HighLatency", "checkout")])[0].incident_id)
    history = SqlIncidentHistory(app.engine)
    state = app.queries.get(org, incident)
    assert state is not None
    sig = signature(state)
    history.mark_recurrence_checked(org, incident, sig)
    assert not history.recurrence_unchecked(org, incident)
    writes = _write_counter(app, org)

    def changes(new: IncidentState) -> object:
        before = writes()
        _write(app, new)
        assert _without_marks(_rows(app, org)) == _recomputed(new)
        return before != writes()

    assert changes(replace(state, project_id="proj-web"))  # a project change: every row updated, mark cleared
    assert history.recurrence_unchecked(org, incident)
    assert {r["project_id"] for r in _rows(app, org)} == {"proj-web"}
    history.mark_recurrence_checked(org, incident, sig)
    assert not changes(replace(state, project_id="proj-web"))  # the same again: no row written, mark kept
    assert not history.recurrence_unchecked(org, incident)
    assert all(r["checked"] == sig for r in _rows(app, org))

    clock.at += timedelta(minutes=5)
    uc.change_status(deps=app.deps, org_id=org, incident_id=incident, actor=RESPONDER, status=Status.RESOLVED)
    resolved = app.queries.get(org, incident)
    assert resolved is not None and signature(resolved) == sig
    assert _without_marks(_rows(app, org)) == _recomputed(resolved)  # back to no project, resolved
    assert history.recurrence_unchecked(org, incident) and history.later_untold(org, incident)  # mark cleared
    history.mark_later_told(org, incident, sig)
    assert not history.later_untold(org, incident)
    clock.at += timedelta(minutes=5)
    late = _signal(org, clock.at, "QueueDepth", "checkout")  # a late alert attached to the resolved incident
    uc.apply_command(deps=app.deps, check_role=False, command=AttachSignal(
        org_id=org, incident_id=incident, actor="revenant", occurred_at=clock.at, signal=late.to_dict(),
        reason="late alert"))
    assert history.later_untold(org, incident)  # a new key: the open incidents sharing it are told again
    now = app.queries.get(org, incident)
    assert now is not None and signature(now) != sig
    assert all(r["checked"] is None and r["signature"] == signature(now) for r in _rows(app, org))

    earlier = writes()
    dropped = replace(now, correlation_keys={k: v for k, v in now.correlation_keys.items()
                                             if not k.startswith("alertname+service=QueueDepth")})
    _write(app, dropped)  # a dropped key: its row deleted, the others updated to the new signature
    rows = _rows(app, org)
    assert _without_marks(rows) == _recomputed(dropped) and len(rows) == len(_recomputed(now)) - 1
    later = writes()
    if isinstance(later, dict) and isinstance(earlier, dict):  # SQLite: the triggers' count of each kind
        assert {k: later.get(k, 0) - earlier.get(k, 0) for k in ("INSERT", "UPDATE", "DELETE")} == {
            "INSERT": 0, "UPDATE": len(rows), "DELETE": 1}
    else:  # PostgreSQL: the kept rows have new versions in the same places' stead, the dropped one is gone
        assert isinstance(later, list) and isinstance(earlier, list)
        assert len(later) == len(earlier) - 1 and not set(later) & set(earlier)
