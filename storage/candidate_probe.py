"""The bounded candidate lookup: per key, the open incidents that saw it last (incident_core/candidate_bound.py).

Each key is a probe of ix_incident_keys_recent, walked from its newest row, that stops after `top` open holders;
then each incident found gets its hits among the batch's keys: the rows the probes returned, plus a primary-key
lookup (incident_id, key) for each key whose probe was cut and did not return it.
A key whose probe stopped at `top` also comes back as a frontier row (no incident, the key, the last_seen_at of
its last row returned). PostgreSQL runs it in revenant_lock_recent_candidates (migrations 0014_cand and 0015_keyparam, after the
key locks); SQLite runs the same query here (correlated `rowid IN (… LIMIT)` in place of LATERAL)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from storage.tables import TZ

# the function's arguments, bound server-side (%(name)s placeholders, run on the DBAPI connection)
PG_PROBE = ("SELECT * FROM revenant_lock_recent_candidates(%(org)s, %(locks)s::json, %(keys)s::json, %(project)s, "
            "%(top)s::integer, %(open)s::json)")

SQLITE_PROBE = sa.text("""
WITH probe AS MATERIALIZED (
    SELECT a.value AS key, c.incident_id, c.last_seen_at
    FROM json_each(:keys) AS a
    JOIN incident_keys AS c ON c.rowid IN (
        SELECT k.rowid FROM incident_keys AS k
        WHERE k.org_id = :org AND k.key = a.value AND k.project_id IS :project
          AND (SELECT i.status FROM incidents AS i WHERE i.id = k.incident_id AND i.org_id = :org)
              IN (SELECT value FROM json_each(:open))
        ORDER BY k.project_id DESC, k.last_seen_at DESC
        LIMIT :top)),
cut AS (
    SELECT key, min(last_seen_at) AS edge FROM probe GROUP BY key HAVING count(*) >= :top),
hits AS (
    SELECT incident_id, key, last_seen_at FROM probe
    UNION ALL
    SELECT f.incident_id, u.key, k.last_seen_at
    FROM (SELECT DISTINCT incident_id FROM probe) AS f
    CROSS JOIN cut AS u
    CROSS JOIN incident_keys AS k
    WHERE k.incident_id = f.incident_id AND k.key = u.key AND k.project_id IS :project
      AND NOT EXISTS (SELECT 1 FROM probe AS b WHERE b.incident_id = f.incident_id AND b.key = u.key))
SELECT g.incident_id, g.hit_keys, g.last, i.number, i.created_at, i.version
FROM (SELECT incident_id, json_group_array(key) AS hit_keys, max(last_seen_at) AS last
      FROM hits GROUP BY incident_id) AS g
JOIN incidents AS i ON i.id = g.incident_id AND i.org_id = :org
UNION ALL
SELECT NULL, json_array(key), edge, NULL, NULL, NULL
FROM cut
""").columns(sa.column("id", sa.String), sa.column("hit_keys", sa.String), sa.column("last", TZ),
             sa.column("number", sa.Integer), sa.column("created_at", TZ), sa.column("version", sa.Integer))


def probe_params(org_id: str, keys: Sequence[str], *, project_id: str | None, top: int, open_statuses: list[str]
                 ) -> dict[str, Any]:
    """The probe's parameters, the lists as JSON arrays (one text each: psycopg adapts a list parameter element by
    element, in Python; migration 0015_keyparam)."""
    keys = sorted({k[:300] for k in keys})  # stored keys are cut at 300 characters
    return {"org": org_id, "keys": json.dumps(keys), "project": project_id, "top": top,
            "open": json.dumps(open_statuses)}
