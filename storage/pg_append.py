"""PostgreSQL append in one round trip: events, the projection row and outbox rows in one statement.

Data-modifying CTEs run together; the statement returns how many projection rows it wrote, so a
stale expected version (0 rows) raises ConcurrencyConflict and the transaction rolls back with
everything else. Unique clashes surface as IntegrityError exactly as with separate statements.
SQLite takes the statement-per-table path in unit_of_work.py; the rows written are the same.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

_EVENT_COLUMNS = ("org_id text, project_id text, stream_id text, stream_version int, type text, data jsonb, "
                  "metadata jsonb, idempotency_key text, occurred_at timestamptz, recorded_at timestamptz, "
                  "actor text")
_OUTBOX_COLUMNS = "org_id text, topic text, key text, payload jsonb, created_at timestamptz, available_at timestamptz"
_PROJECTION = ("id, org_id, project_id, number, title, status, severity, commander, version, created_at, "
               "updated_at, state")

_WITH = f"""
WITH ev AS (
  INSERT INTO events (org_id, project_id, stream_id, stream_version, type, data, metadata, idempotency_key,
                      occurred_at, recorded_at, actor)
  SELECT * FROM jsonb_to_recordset(%(events)s::jsonb) AS x({_EVENT_COLUMNS})
  RETURNING 1
), ob AS (
  INSERT INTO outbox (org_id, topic, key, payload, created_at, available_at, attempts)
  SELECT x.*, 0 FROM jsonb_to_recordset(%(outbox)s::jsonb) AS x({_OUTBOX_COLUMNS})
  RETURNING 1
), p AS (
  SELECT * FROM jsonb_populate_record(null::incidents, %(projection)s::jsonb)
)
"""

_UPDATE = _WITH + f"""
, up AS (
  UPDATE incidents AS i SET ({_PROJECTION}) = (SELECT {_PROJECTION} FROM p)
  WHERE i.id = %(id)s AND i.org_id = %(org_id)s AND i.version = %(expected)s
  RETURNING 1
)
SELECT (SELECT count(*) FROM up), (SELECT count(*) FROM ev), (SELECT count(*) FROM ob)
"""

_INSERT = _WITH + f"""
, ins AS (
  INSERT INTO incidents ({_PROJECTION}) SELECT {_PROJECTION} FROM p
  RETURNING 1
)
SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM ev), (SELECT count(*) FROM ob)
"""


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}


def append_pg(conn: Connection, *, org_id: str, incident_id: str, expected_version: int,
              events: list[dict[str, Any]], projection: dict[str, Any], outbox: list[dict[str, Any]]) -> int:
    """Write everything in one statement; returns how many projection rows were written (1, or 0 if stale)."""
    params = {
        "events": json.dumps([_plain(r) for r in events]), "outbox": json.dumps([_plain(r) for r in outbox]),
        "projection": json.dumps(_plain(projection)), "id": incident_id, "org_id": org_id,
        "expected": expected_version,
    }
    row = conn.exec_driver_sql(_INSERT if expected_version == 0 else _UPDATE, params).one()
    return int(row[0])
