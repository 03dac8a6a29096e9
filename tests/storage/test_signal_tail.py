"""The signal tail (recent signals, metric points, log lines, correlation keys) lives in rows of its own:
appends add and trim them, reads join them back into exactly the state the fold computes, and a rebuild
from events writes the same rows. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from bot.bootstrap import App
from handlers.signals import normalize
from incident_core.ingest import GroupingPolicy, ingest_batch
from incident_core.raw_payloads import referencing
from incident_core.state import MAX_LOG_LINES, MAX_METRIC_POINTS, MAX_RECENT_SIGNALS, IncidentState, apply_all
from storage.engine import scope_to_org
from storage.projections import rebuild, snapshot
from storage.raw_payloads import RAW_PAYLOAD_TENANT_TABLES
from storage.signal_tail_tables import SIGNAL_TAIL_TENANT_TABLES
from storage.state_read import INCIDENTS
from storage.unit_of_work import SqlUnitOfWork
from tests.helpers import new_org

T0 = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)


def _at(n: int) -> str:
    return (T0 + timedelta(seconds=n)).isoformat()


def metric(n: int, *, values: int = 2) -> dict[str, Any]:
    return {"title": f"api p99 high ({n})", "kind": "metric", "service": "api", "fingerprint": f"metric-{n % 4}",
            "starts_at": _at(n), "values": {f"p{v}": n + v / 10 for v in range(values)}}


def log(n: int, distinct: int) -> dict[str, Any]:
    return {"title": f"timeout talking to db {n % distinct}", "kind": "log", "service": "api",
            "fingerprint": f"log-{n}", "starts_at": _at(n)}


def alert(n: int, status: str = "firing") -> dict[str, Any]:
    return {"title": f"api errors ({n % 5})", "service": "api", "fingerprint": f"alert-{n % 5}", "status": status,
            "starts_at": _at(n)}


def deliver(app: App, org: str, items: list[dict[str, Any]]) -> None:
    signals = referencing(normalize("generic", items, org_id=org, project_id=None, received_at=T0), items)
    batch = [(s, GroupingPolicy(sender_groups=False)) for s in signals]
    ingest_batch(deps=app.deps, org_id=org, batch=batch)


def folded(app: App, org: str, incident_id: str) -> IncidentState:
    state = apply_all(None, app.queries.timeline(org, incident_id))
    assert state is not None
    return state


def fresh_read(app: App, org: str, incident_id: str) -> IncidentState:
    """Read through a unit of work with an empty cache: the state comes from the rows, not from memory."""
    with SqlUnitOfWork(app.engine)(org) as tx:
        state = tx.load(incident_id)
    assert state is not None
    return state


def storm(app: App, org: str) -> str:
    """Many signals of every kind into one incident, past every cap; returns its id."""
    for start in range(0, 90, 15):  # metrics: 90 signals, 2 points each (> MAX_METRIC_POINTS)
        deliver(app, org, [metric(n) for n in range(start, start + 15)])
    deliver(app, org, [metric(200, values=70)])  # one signal with more points than the cap
    for start in range(0, 60, 20):  # logs: 25 distinct lines (> MAX_LOG_LINES), repeating
        deliver(app, org, [log(300 + n, 25) for n in range(start, start + 20)])
    deliver(app, org, [alert(400 + n) for n in range(5)])
    deliver(app, org, [alert(400 + n, "resolved") for n in (1, 3)] + [alert(410)])  # resolve, then fire again
    with app.engine.begin() as conn:
        scope_to_org(conn, org)
        return conn.execute(sa.select(INCIDENTS.c.id).where(INCIDENTS.c.org_id == org)).scalar_one()


def test_reading_a_state_gives_what_the_fold_computes(app: App) -> None:
    org = new_org(app).org.id
    incident_id = storm(app, org)
    expected = folded(app, org, incident_id)
    for state in (fresh_read(app, org, incident_id), app.queries.get(org, incident_id)):
        assert state is not None
        assert state.recent_signals == expected.recent_signals
        assert state.metric_points == expected.metric_points
        assert state.log_lines == expected.log_lines
        assert state.to_dict() == expected.to_dict()
    assert len(expected.recent_signals) == MAX_RECENT_SIGNALS
    assert len(expected.metric_points) == MAX_METRIC_POINTS
    assert len(expected.log_lines) == MAX_LOG_LINES
    assert [r["status"] for r in expected.recent_signals if r["fingerprint"] == "alert-1"] == ["resolved"]


def test_the_tail_tables_hold_only_the_capped_rows_and_the_document_none_of_them(app: App) -> None:
    org = new_org(app).org.id
    incident_id = storm(app, org)
    rows = snapshot(app.engine, org)
    assert len(rows["incident_recent_signals"]) == MAX_RECENT_SIGNALS
    assert len(rows["incident_metric_points"]) == MAX_METRIC_POINTS
    assert len(rows["incident_log_lines"]) == MAX_LOG_LINES
    (incident,) = rows["incidents"]
    document = incident["state"] if isinstance(incident["state"], dict) else json.loads(incident["state"])
    assert not {"recent_signals", "metric_points", "log_lines"} & document.keys()
    assert incident["id"] == incident_id


def test_a_rebuild_from_events_writes_the_same_tail_rows(app: App) -> None:
    org = new_org(app).org.id
    incident_id = storm(app, org)
    before = snapshot(app.engine, org)
    rebuild(app.engine, org_ids=[org])
    assert snapshot(app.engine, org) == before
    assert fresh_read(app, org, incident_id).recent_signals == folded(app, org, incident_id).recent_signals


@pytest.mark.parametrize("table", [*SIGNAL_TAIL_TENANT_TABLES, *RAW_PAYLOAD_TENANT_TABLES])
def test_the_tail_tables_are_behind_the_tenant_wall(pg_app: App, table: str) -> None:
    a, b = new_org(pg_app).org.id, new_org(pg_app).org.id
    for org in (a, b):
        deliver(pg_app, org, [metric(1), log(2, 5), alert(3)])
    with pg_app.engine.connect() as conn:
        assert conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar() == 0  # no org bound: nothing
    with pg_app.engine.begin() as conn:
        scope_to_org(conn, a)
        orgs = {r.org_id for r in conn.execute(sa.text(f"SELECT org_id FROM {table} WHERE org_id = :b OR true"),
                                                {"b": b})}
        assert orgs == {a}
    with pytest.raises(DBAPIError, match="row-level security"), pg_app.engine.begin() as conn:
        scope_to_org(conn, a)
        conn.execute(sa.text(f"UPDATE {table} SET org_id = :b"), {"b": b})
