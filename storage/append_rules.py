"""The projection rules of an append, written once: SQLite runs them as statements, PostgreSQL as a function
generated from the same SQLAlchemy constructs (`append_function_sql`, installed by migration 0009_i18).

The rules: a stale expected version writes nothing; a correlation key's row keeps its newest sighting and
the incident's keys older than the floor go; a signal's row keeps its first sighting, counts deliveries,
keeps its incident once attached and its severity unless a new one is given.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from incident_core.state import MAX_METRIC_POINTS, MAX_RECENT_SIGNALS
from storage.raw_payloads import PAYLOADS
from storage.signal_tail_tables import LogLineRow, MetricPointRow, RecentSignalRow
from storage.tables import EventRow, IncidentKey, IncidentRow, OutboxRow, SignalRow

EVENTS = EventRow.__table__  # type: ignore[attr-defined]
INCIDENTS = IncidentRow.__table__  # type: ignore[attr-defined]
OUTBOX = OutboxRow.__table__  # type: ignore[attr-defined]
KEYS = IncidentKey.__table__  # type: ignore[attr-defined]
SIGNALS = SignalRow.__table__  # type: ignore[attr-defined]
RECENT = RecentSignalRow.__table__  # type: ignore[attr-defined]
POINTS = MetricPointRow.__table__  # type: ignore[attr-defined]
LOGS = LogLineRow.__table__  # type: ignore[attr-defined]

EVENT_COLUMNS = ("org_id", "project_id", "stream_id", "stream_version", "type", "data", "metadata",
                 "idempotency_key", "occurred_at", "recorded_at", "actor")
PROJECTION_COLUMNS = ("id", "org_id", "project_id", "number", "title", "status", "severity", "commander",
                      "version", "created_at", "updated_at", "state")
KEY_COLUMNS = ("incident_id", "key", "org_id", "project_id", "last_seen_at")
SIGNAL_COLUMNS = ("org_id", "fingerprint", "incident_id", "source", "title", "status", "severity", "service",
                  "first_seen_at", "last_seen_at", "deliveries", "last_decision")
RECENT_COLUMNS = ("org_id", "incident_id", "seq", "source", "kind", "status", "severity", "title", "service",
                  "fingerprint", "at")
POINT_COLUMNS = ("org_id", "incident_id", "seq", "at", "name", "value")
LOG_COLUMNS = ("org_id", "incident_id", "line", "count")
PAYLOAD_COLUMNS = ("org_id", "id", "payload", "received_at")
OUTBOX_COLUMNS = ("org_id", "topic", "key", "payload", "created_at", "available_at")


def keys_upsert(insert: Any) -> Any:
    """A key seen again keeps one row per (incident, key), with its newest sighting."""
    return insert.on_conflict_do_update(index_elements=["incident_id", "key"],
                                        set_={"last_seen_at": insert.excluded.last_seen_at})


def signals_upsert(insert: Any) -> Any:
    """A signal seen again: its newest status, title and decision; its incident and severity kept unless given;
    its deliveries counted (a row folds the sightings of one append: storage/signal_projection.py `fold_signals`)."""
    new = insert.excluded
    return insert.on_conflict_do_update(index_elements=["org_id", "fingerprint"], set_={
        "incident_id": sa.func.coalesce(new.incident_id, SIGNALS.c.incident_id),
        "status": new.status, "title": new.title, "last_seen_at": new.last_seen_at,
        "deliveries": SIGNALS.c.deliveries + new.deliveries, "last_decision": new.last_decision,
        "severity": sa.case((new.severity != "", new.severity), else_=SIGNALS.c.severity),
    })


def keys_trim(incident_id: Any, floor: Any) -> sa.Delete:
    """Drop an incident's keys last seen before `floor` (the state keeps MAX_KEYS, evicting by time)."""
    return KEYS.delete().where(KEYS.c.incident_id == incident_id, KEYS.c.last_seen_at < floor)


def recent_resolve(incident_id: Any, fingerprints: Any) -> sa.Update:
    """The incident's recent signals with a resolved fingerprint show it resolved (run before new rows go in)."""
    return RECENT.update().where(RECENT.c.incident_id == incident_id,
                                 RECENT.c.fingerprint.in_(fingerprints)).values(status="resolved")


def trim_newest(table: sa.Table, incident_id: Any, keep: int) -> sa.Delete:
    """Keep the incident's `keep` newest rows by seq (its recent signals, its metric points)."""
    newest = (sa.select(table.c.seq).where(table.c.incident_id == incident_id)
              .order_by(table.c.seq.desc()).offset(keep - 1).limit(1).scalar_subquery())
    return table.delete().where(table.c.incident_id == incident_id, table.c.seq < newest)


def trim_recent(incident_id: Any) -> sa.Delete:
    return trim_newest(RECENT, incident_id, MAX_RECENT_SIGNALS)


def trim_points(incident_id: Any) -> sa.Delete:
    return trim_newest(POINTS, incident_id, MAX_METRIC_POINTS)


def logs_upsert(insert: Any) -> Any:
    """A log line's row carries its count after the append (the fold caps how many lines there are)."""
    return insert.on_conflict_do_update(index_elements=["incident_id", "line"], set_={"count": insert.excluded.count})


def payloads_insert(insert: Any) -> Any:
    """A delivery's payload is written once: a redelivery (the same content) finds it there."""
    return insert.on_conflict_do_nothing(index_elements=["org_id", "id"])


def incident_update(incident_id: Any, org_id: Any, expected: Any, values: Any) -> sa.Update:
    """The projection row moves from `expected` to the new version only if nobody moved it first."""
    return INCIDENTS.update().where(INCIDENTS.c.id == incident_id, INCIDENTS.c.org_id == org_id,
                                    INCIDENTS.c.version == expected).values(values)


# --- PostgreSQL: the same rules, compiled into revenant_append ------------------------------------------

def _recordset(param: str, table: sa.Table, columns: tuple[str, ...]) -> Any:
    fn = sa.func.jsonb_to_recordset(sa.literal_column(param))
    return fn.table_valued(*[sa.column(c, table.c[c].type) for c in columns]).render_derived(name="x",
                                                                                            with_types=True)


def _from_recordset(table: sa.Table, param: str, columns: tuple[str, ...]) -> Any:
    rows = _recordset(param, table, columns)
    return postgresql.insert(table).from_select(list(columns), sa.select(*[rows.c[c] for c in columns]))


def _from_record(table: sa.Table, record: str, columns: tuple[str, ...]) -> Any:
    """INSERT … SELECT from a PL/pgSQL record (no RETURNING, which PL/pgSQL would need a target for)."""
    return postgresql.insert(table).from_select(list(columns),
                                                sa.select(*[sa.literal_column(f"{record}.{c}") for c in columns]))


def _sql(statement: Any) -> str:
    return str(statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))


def append_function_sql() -> str:
    """CREATE OR REPLACE FUNCTION revenant_append(...), generated from the rules above."""
    param = sa.literal_column
    insert_events = _sql(_from_recordset(EVENTS, "p_events", EVENT_COLUMNS))
    insert_incident = _sql(_from_record(INCIDENTS, "r", PROJECTION_COLUMNS))
    update_incident = _sql(incident_update(param("p_incident"), param("p_org"), param("p_expected"),
                                           {c: param(f"r.{c}") for c in PROJECTION_COLUMNS}))
    upsert_keys = _sql(keys_upsert(_from_recordset(KEYS, "p_keys", KEY_COLUMNS)))
    trim_keys = _sql(keys_trim(param("p_incident"), param("p_keys_before")))
    upsert_signals = _sql(signals_upsert(_from_recordset(SIGNALS, "p_signals", SIGNAL_COLUMNS)))
    resolve_recent = _sql(recent_resolve(param("p_incident"), sa.select(
        sa.func.jsonb_array_elements_text(param("p_resolved"))).scalar_subquery()))
    insert_recent = _sql(_from_recordset(RECENT, "p_recent", RECENT_COLUMNS))
    insert_points = _sql(_from_recordset(POINTS, "p_points", POINT_COLUMNS))
    upsert_logs = _sql(logs_upsert(_from_recordset(LOGS, "p_logs", LOG_COLUMNS)))
    insert_payloads = _sql(payloads_insert(_from_recordset(PAYLOADS, "p_payloads", PAYLOAD_COLUMNS)))
    outbox_rows = _recordset("p_outbox", OUTBOX, OUTBOX_COLUMNS)
    insert_outbox = _sql(postgresql.insert(OUTBOX).from_select(
        [*OUTBOX_COLUMNS, "attempts"], sa.select(*[outbox_rows.c[c] for c in OUTBOX_COLUMNS], sa.literal(0))))
    return f"""CREATE OR REPLACE FUNCTION revenant_append(p_org text, p_incident text, p_expected integer,
    p_events jsonb, p_projection jsonb, p_outbox jsonb, p_keys jsonb, p_keys_before timestamptz, p_signals jsonb,
    p_recent jsonb, p_resolved jsonb, p_points jsonb, p_logs jsonb, p_payloads jsonb, p_state json)
RETURNS void LANGUAGE plpgsql SECURITY INVOKER AS $$
-- Generated by storage/append_rules.py (append_function_sql); do not edit here.
DECLARE
  written integer;
  r incidents%ROWTYPE;
BEGIN
  IF jsonb_array_length(p_payloads) > 0 THEN
    {insert_payloads};
  END IF;
  {insert_events};
  r := jsonb_populate_record(null::incidents, p_projection);
  r.state := p_state;  -- json: taken as sent, never parsed into jsonb (migration 0013_pgcost)
  IF p_expected = 0 THEN
    {insert_incident};
  ELSE
    {update_incident};
    GET DIAGNOSTICS written = ROW_COUNT;
    IF written <> 1 THEN
      RAISE EXCEPTION 'stale expected version % for incident %: it changed concurrently', p_expected, p_incident
        USING ERRCODE = 'serialization_failure';
    END IF;
  END IF;
  IF jsonb_array_length(p_keys) > 0 THEN
    {upsert_keys};
  END IF;
  IF p_keys_before IS NOT NULL THEN
    {trim_keys};
  END IF;
  -- one statement: each fingerprint comes once (storage/signal_projection.py `fold_signals`)
  IF jsonb_array_length(p_signals) > 0 THEN
    {upsert_signals};
  END IF;
  IF jsonb_array_length(p_resolved) > 0 THEN
    {resolve_recent};
  END IF;
  IF jsonb_array_length(p_recent) > 0 THEN
    {insert_recent};
    {_sql(trim_recent(param("p_incident")))};
  END IF;
  IF jsonb_array_length(p_points) > 0 THEN
    {insert_points};
    {_sql(trim_points(param("p_incident")))};
  END IF;
  IF jsonb_array_length(p_logs) > 0 THEN
    {upsert_logs};
  END IF;
  IF jsonb_array_length(p_outbox) > 0 THEN
    {insert_outbox};
  END IF;
END $$"""


def install_append_function(bind: Any) -> None:
    """Install the generated revenant_append (PostgreSQL only; SQLite runs the statements themselves)."""
    if bind.dialect.name == "postgresql":
        for signature in _EARLIER_SIGNATURES:
            bind.execute(sa.text(f"DROP FUNCTION IF EXISTS revenant_append({signature})"))
        bind.execute(sa.text(append_function_sql()))


# Argument lists revenant_append had before (CREATE OR REPLACE cannot change them: drop, then create).
_EARLIER_SIGNATURES = ("text, text, integer, jsonb, jsonb, jsonb, jsonb, timestamptz, jsonb",
                       "text, text, integer, jsonb, jsonb, jsonb, jsonb, timestamptz, jsonb, jsonb, jsonb, jsonb, jsonb, "
                       "jsonb")
