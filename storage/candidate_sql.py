"""The full candidate lookup and the key locks, as SQL built once (storage/unit_of_work.py runs them).

`candidates_statement` reads every open incident holding any of a batch's keys (the bounded probe in
storage/candidate_probe.py reads fewer, when it can); the lock statements take one transaction-scoped advisory
lock per `org:key`, in order. PostgreSQL gets its lists as one JSON text each (psycopg would adapt a list
parameter element by element, in Python); SQLite an expanding IN list.
"""

from __future__ import annotations

import functools
import json

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialect

from incident_core.model import Status
from storage.signal_projection import KEYS
from storage.state_read import INCIDENTS

_ORG = sa.bindparam("org", type_=sa.String)

OPEN_STATUSES = [s.value for s in Status if s.is_open]
OPEN_JSON = json.dumps(OPEN_STATUSES)


@functools.cache
def candidates_statement(*, pg: bool, project: bool, since: bool) -> sa.Select:
    """Open incidents holding any of the keys bound as `keys` (org `org`, project `project` or none, keys seen
    since `since` if given), with the keys they matched and their versions: an index lookup on
    ix_incident_keys_recent (its (org_id, key) prefix), one probe per key, never a scan of the org's keys.

    Built once per form and executed with bound parameters (no statement construction per call)."""
    def listed(column: sa.ColumnElement[str], name: str) -> sa.ColumnElement[bool]:
        # PostgreSQL: one JSON array parameter, unpacked into an array once (one plan whatever the count; psycopg
        # would adapt a list parameter element by element, in Python); SQLite: an expanding IN list
        if pg:
            elements = sa.text(f"(ARRAY(SELECT json_array_elements_text(CAST(:{name} AS json))))")
            return column == sa.any_(sa.type_coerce(elements, postgresql.ARRAY(sa.String)))
        return column.in_(sa.bindparam(name, expanding=True))

    matched: tuple[sa.ColumnElement[bool], ...] = (
        KEYS.c.org_id == _ORG, listed(KEYS.c.key, "keys"),
        KEYS.c.project_id == sa.bindparam("project", type_=sa.String) if project else KEYS.c.project_id.is_(None))
    if since:
        matched = (*matched, KEYS.c.last_seen_at >= sa.bindparam("since", type_=KEYS.c.last_seen_at.type))
    agg = sa.func.array_agg(KEYS.c.key) if pg else sa.func.json_group_array(KEYS.c.key)
    hits = (sa.select(KEYS.c.incident_id, agg.label("hit_keys"), sa.func.max(KEYS.c.last_seen_at).label("last"))
            .where(*matched).group_by(KEYS.c.incident_id).subquery())
    # No states here: a common key (an alertname) can match every open incident, and only the one
    # correlation picks is loaded (or taken from the cache, when it holds the version read here).
    return (sa.select(hits.c.incident_id, hits.c.hit_keys, hits.c.last, INCIDENTS.c.number, INCIDENTS.c.created_at,
                      INCIDENTS.c.version)
            .join(INCIDENTS, INCIDENTS.c.id == hits.c.incident_id)
            .where(INCIDENTS.c.org_id == _ORG, listed(INCIDENTS.c.status, "open")))


@functools.cache
def driver_sql(statement: sa.ClauseElement) -> str:
    """A statement built once, rendered once for psycopg (%(name)s placeholders): run on the DBAPI connection
    it costs no SQLAlchemy compilation, caching or result processing per call."""
    return str(statement.compile(dialect=_PSYCOPG))


_PSYCOPG = psycopg_dialect.dialect()


_LOCK_SQL = ("count(pg_advisory_xact_lock(hashtextextended(k, 0))) "
             "FROM (SELECT CAST(:org AS text) || ':' || json_array_elements_text(CAST(:keys AS json)) AS k "
             "ORDER BY 1) AS ordered")
LOCK_KEYS = driver_sql(sa.text(f"SELECT {_LOCK_SQL}"))
# set_config comes first in the target list; advisory locks read no tenant rows either way.
SCOPE_AND_LOCK_KEYS = driver_sql(sa.text(f"SELECT set_config('app.org_id', :org, true), {_LOCK_SQL}"))
