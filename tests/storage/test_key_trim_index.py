"""An incident's key trim (storage/append_rules.py `keys_trim`) reads its keys by age through ix_incident_keys_age
(migration 0015_pgcost2), and leaves `incident_keys` mirroring the state's correlation keys, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from bot.bootstrap import App
from incident_core.ingest import ingest_batch
from incident_core.state import MAX_KEYS
from storage.append_rules import KEYS, keys_trim
from storage.engine import scope_to_org
from storage.queries import SqlIncidentQueries
from tests.helpers import new_org
from tests.storage.test_ingest_batch import alert, batch_of, delivery


def test_trimmed_keys_mirror_the_state(app: App) -> None:
    """230 alerts of one service bring more than MAX_KEYS fingerprint keys: the rows left are the state's keys."""
    w = new_org(app)
    for start in range(0, 230, 10):
        ingest_batch(deps=app.deps, org_id=w.org.id, batch=batch_of(w.org.id, delivery(
            [alert(i, service="api") for i in range(start, start + 10)])))
    with app.engine.begin() as conn:
        scope_to_org(conn, w.org.id)
        rows = conn.execute(sa.select(KEYS.c.incident_id, KEYS.c.key, KEYS.c.last_seen_at)
                            .where(KEYS.c.org_id == w.org.id)).all()
    incidents = {r.incident_id for r in rows}
    assert len(incidents) == 1
    state = SqlIncidentQueries(app.engine).get(w.org.id, incidents.pop())
    assert state is not None and len(state.correlation_keys) == MAX_KEYS  # keys were evicted (230 fingerprints)
    stored = {r.key: r.last_seen_at.replace(tzinfo=r.last_seen_at.tzinfo or UTC) for r in rows}
    assert stored == {k: datetime.fromisoformat(at) for k, at in state.correlation_keys.items()}
    assert "fingerprint=0000000000000000" not in stored and "fingerprint=00000000000000e5" in stored


def test_the_postgresql_trim_ranges_over_the_age_index(pg_app: App) -> None:
    """As PL/pgSQL runs it (a generic plan, row-level security on, before ANALYZE): an index range on
    (incident_id, last_seen_at), not a walk of the incident's primary-key entries."""
    w = new_org(pg_app)
    trim = keys_trim(sa.bindparam("incident"), sa.bindparam("floor"))
    sql = str(trim.compile(dialect=postgresql.dialect())).replace("%(incident)s", "$1").replace("%(floor)s", "$2")
    with pg_app.engine.begin() as conn:
        scope_to_org(conn, w.org.id)
        conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
        conn.exec_driver_sql(f"PREPARE trim_keys (text, timestamptz) AS {sql}")
        try:
            plan = "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN EXECUTE trim_keys ('i', now())"))
        finally:
            conn.exec_driver_sql("DEALLOCATE trim_keys")
    assert "ix_incident_keys_age" in plan, plan
    assert "Index Cond: (((incident_id)::text = $1) AND (last_seen_at < $2))" in plan, plan


def test_the_sqlite_trim_searches_the_age_index(sqlite_app: App) -> None:
    trim = keys_trim("i", datetime(2026, 12, 7, tzinfo=UTC))
    with sqlite_app.engine.begin() as conn:
        compiled = trim.compile(dialect=sqlite_app.engine.dialect)
        plan = "\n".join(str(r[-1]) for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}",
                                                                   tuple(compiled.params.values())))
    assert "INDEX ix_incident_keys_age (incident_id=? AND last_seen_at<?)" in plan, plan


def test_a_lookup_by_incident_and_key_keeps_the_primary_key(pg_app: App) -> None:
    """The candidate lookup's probe of one (incident, key) (migration 0014_cand), planned generically while the table
    is small: the primary key answers it. A plain (incident_id, last_seen_at) index was chosen there, reading every
    key of the incident with the key as a filter; the partial index is out of its reach."""
    w = new_org(pg_app)
    with pg_app.engine.begin() as conn:
        scope_to_org(conn, w.org.id)
        conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
        conn.exec_driver_sql("PREPARE key_of (text, text, text) AS SELECT k.last_seen_at FROM incident_keys AS k "
                             "WHERE k.incident_id = $1 AND k.key = $2 AND k.project_id IS NOT DISTINCT FROM $3")
        try:
            plan = "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN EXECUTE key_of ('i', 'k', NULL)"))
        finally:
            conn.exec_driver_sql("DEALLOCATE key_of")
    assert "incident_keys_pkey" in plan and "ix_incident_keys_age" not in plan, plan
