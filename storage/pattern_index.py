"""The pattern-key index: each incident's recurrence pattern keys by org and key, written with its events.

A recurrence check asks "which earlier incidents of this project, resolved before this one opened, share
each of its pattern keys?". Loading every incident that shares a key and walking its correlation keys
cost ~50 ms per outbox message in an alert storm; this table answers it with one probe per key of
`ix_incident_patterns_lookup` (org, key, opened_at), bounded by the window, never a scan of the org.

Rows are the incident's `state_pattern_keys` (incident_core/patterns.py), brought up to date in the append's
transaction only when those keys, the project or the first resolution may have changed (`patterns_changed`), so a
signal that repeats known alerts writes nothing here. Only the rows that change are written: a dropped key's row
is deleted, a new key's inserted, a held key's updated where its project, times or signature differ (one
statement on PostgreSQL, two on SQLite); a row that stays as it is is not touched, even when the process did not
know the state before. `checked` is the mark the recurrence watcher left for the signature it last checked; a
row that changes loses it, as the full rewrite this replaced cleared it, so a changed key set, project or
resolution is checked again. A projection rebuild recomputes the rows from the replayed states
(storage/projections.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Field, SQLModel

from incident_core.patterns import (
    DEFAULT_WINDOW_DAYS,
    PatternMarks,
    check_mark,
    keys_signature,
    marks_unchecked,
    marks_untold,
    next_alert_keys,
    resolved_at,
    state_alert_keys,
    state_pattern_keys,
    told_mark,
)
from incident_core.state import IncidentState
from storage.engine import is_postgres, scope_to_org
from storage.pg_append import Statement
from storage.pg_scoped import scoped_rows
from storage.tables import TZ

PATTERN_TENANT_TABLES = ("incident_patterns",)
KEY_LENGTH = 300


class IncidentPatternRow(SQLModel, table=True):
    """Projection: one pattern key of an incident, with what a recurrence check filters on."""

    __tablename__ = "incident_patterns"
    __table_args__ = (sa.Index("ix_incident_patterns_lookup", "org_id", "key", "opened_at"),)
    incident_id: str = Field(primary_key=True, max_length=64)
    key: str = Field(primary_key=True, max_length=KEY_LENGTH)
    org_id: str = Field(foreign_key="organizations.id", max_length=64)
    project_id: str | None = Field(default=None, max_length=64)
    opened_at: datetime = Field(sa_type=TZ)
    resolved_at: datetime | None = Field(default=None, sa_type=TZ)
    signature: str = Field(max_length=16)
    checked: str | None = Field(default=None, max_length=16)


PATTERNS = IncidentPatternRow.__table__  # type: ignore[attr-defined]
# What a replay recomputes: every column but `checked`, the recurrence watcher's own bookkeeping (a rebuild
# keeps it where the keys are unchanged, and the watcher may set it at any time, so snapshots leave it out).
REPLAYED = [c for c in PATTERNS.c if c.name != "checked"]


def _index_values(state: IncidentState) -> tuple[list[str], dict[str, Any]]:
    """The incident's index keys (distinct, as stored) and the values each of its rows holds."""
    keys = state_pattern_keys(state)
    return list(dict.fromkeys(k[:KEY_LENGTH] for k in keys)), {
        "incident_id": state.incident_id, "org_id": state.org_id, "project_id": state.project_id,
        "opened_at": state.created_at, "resolved_at": resolved_at(state), "signature": keys_signature(keys)}


def pattern_rows(state: IncidentState) -> list[dict[str, Any]]:
    """The index rows of one state (none when it has no pattern keys)."""
    keys, values = _index_values(state)
    return [{**values, "key": k} for k in keys]


def checked_marks(conn: Connection, org_id: str) -> dict[str, str]:
    """Incident → the signature its keys were last checked for (read before a rebuild deletes the rows)."""
    return {r.incident_id: r.checked for r in conn.execute(
        sa.select(PATTERNS.c.incident_id, PATTERNS.c.checked).where(
            PATTERNS.c.org_id == org_id, PATTERNS.c.checked.is_not(None)).distinct())}


def rebuilt_rows(states: Sequence[IncidentState], marks: dict[str, str]) -> list[dict[str, Any]]:
    """The index rows of replayed states, each keeping its `checked` mark when its keys are the same."""
    return [{**row, "checked": row["signature"] if marks.get(row["incident_id"]) == row["signature"] else None}
            for state in states for row in pattern_rows(state)]


def patterns_changed(before: IncidentState | None, after: IncidentState) -> bool:
    """True when an append may change the incident's index rows (always when the state before is unknown).

    The alert keys come from the state before's (remembered on it, see patterns.next_alert_keys) and the
    keys the append added: the ~200 keys of each state are walked once per state object, not per append."""
    if before is None:
        return True
    if (before.project_id != after.project_id or before.services != after.services
            or resolved_at(before) != resolved_at(after) or before.created_at != after.created_at):
        return True
    return next_alert_keys(before, after) != state_alert_keys(before)


# What an incident's rows hold besides their key: a row whose values all stay is not written, and a row that
# changes loses its `checked` mark, as the rewrite it replaces cleared it (the watcher then checks again).
_TRACKED = ("project_id", "opened_at", "resolved_at", "signature")


def _drop_gone(keys: list[str], org_id: str, incident_id: str) -> Any:
    """Delete the incident's rows whose key it no longer holds."""
    return PATTERNS.delete().where(PATTERNS.c.org_id == org_id, PATTERNS.c.incident_id == incident_id,
                                   PATTERNS.c.key.not_in(keys))


_UPSERTS: dict[bool, Any] = {}  # postgres?: the upsert, built once


def _upsert(pg: bool) -> Any:
    """Insert new keys; update a held key's row (of this org) only where a tracked value changed."""
    if pg not in _UPSERTS:
        base = (postgresql if pg else sqlite).insert(PATTERNS)
        new = base.excluded
        changed = sa.or_(*(PATTERNS.c[name].is_distinct_from(new[name]) for name in _TRACKED))
        _UPSERTS[pg] = base.on_conflict_do_update(
            index_elements=[PATTERNS.c.incident_id, PATTERNS.c.key],
            set_={**{name: new[name] for name in _TRACKED}, "checked": None},
            where=sa.and_(PATTERNS.c.org_id == new.org_id, changed))
    return _UPSERTS[pg]


def project_patterns(conn: Connection, state: IncidentState) -> None:
    """Bring the incident's index rows to its state inside the caller's transaction, writing only the rows
    that change: dropped keys deleted, new keys inserted, held keys updated where a tracked value changed."""
    keys, values = _index_values(state)
    conn.execute(_drop_gone(keys, state.org_id, state.incident_id))
    if keys:
        conn.execute(_upsert(is_postgres(conn)), [{**values, "key": k} for k in keys])


# The same as one statement for PostgreSQL's deferred appends: the delete runs in a data-modifying WITH, on
# keys disjoint from the upsert's, so both see the rows as they were and neither touches the other's.
_PG_WRITE = (
    "WITH gone AS (DELETE FROM incident_patterns WHERE org_id = %(org_id)s AND incident_id = %(incident_id)s "
    "AND key <> ALL (%(keys)s::text[])) "
    "INSERT INTO incident_patterns AS p (incident_id, key, org_id, project_id, opened_at, resolved_at, signature) "
    "SELECT %(incident_id)s, k, %(org_id)s, %(project_id)s, %(opened_at)s::timestamptz, "
    "%(resolved_at)s::timestamptz, %(signature)s FROM unnest(%(keys)s::text[]) AS k "
    "ON CONFLICT (incident_id, key) DO UPDATE SET project_id = EXCLUDED.project_id, "
    "opened_at = EXCLUDED.opened_at, resolved_at = EXCLUDED.resolved_at, signature = EXCLUDED.signature, "
    "checked = NULL WHERE p.org_id = EXCLUDED.org_id AND (p.project_id, p.opened_at, p.resolved_at, p.signature) "
    "IS DISTINCT FROM (EXCLUDED.project_id, EXCLUDED.opened_at, EXCLUDED.resolved_at, EXCLUDED.signature)")


def pg_statements(state: IncidentState) -> list[Statement]:
    """The same writes as SQL for PostgreSQL's deferred appends (sent in the append's message)."""
    keys, values = _index_values(state)
    return [(_PG_WRITE, {**values, "keys": keys})]


_UNCHECKED = (sa.select(PATTERNS.c.signature, PATTERNS.c.checked)
              .where(PATTERNS.c.org_id == sa.bindparam("org"), PATTERNS.c.incident_id == sa.bindparam("id")).limit(1))
_PG_UNCHECKED = "SELECT signature, checked FROM incident_patterns WHERE org_id = %(org)s AND incident_id = %(id)s LIMIT 1"
# pattern_counts and _mark as fixed text for PostgreSQL (the keys as one array literal, `text_array`: psycopg adapts a
# list element by element, and an array unpacked from JSON is a parameter the planner cannot probe the index with);
# the same rows as the SQLAlchemy statements below, which SQLite runs.
_PG_COUNTS = (
    "SELECT key, count(*) FROM incident_patterns WHERE org_id = %(org)s "
    "AND key = ANY (%(keys)s::text[]) AND opened_at >= %(since)s "
    "AND (project_id = %(project)s OR (%(project)s IS NULL AND project_id IS NULL)) "
    "AND resolved_at IS NOT NULL AND resolved_at <= %(resolved_by)s AND incident_id <> %(exclude)s GROUP BY key")
_PG_MARK = ("UPDATE incident_patterns SET checked = %(mark)s "
            "WHERE org_id = %(org)s AND incident_id = %(id)s AND signature = %(signature)s")


def text_array(values: Iterable[str]) -> str:
    """A PostgreSQL array literal of these strings (for `::text[]`), each element quoted and escaped."""
    return "{" + ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "}"


class SqlPatternIndex:
    """The recurrence queries over the index; every statement filters on org_id (RLS is the second wall)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._pg = is_postgres(engine)

    def recurrence_unchecked(self, org_id: str, incident_id: str, window_days: int = DEFAULT_WINDOW_DAYS) -> bool:
        """False only when the index holds the incident's keys and they were already checked with this window."""
        return marks_unchecked(self.marks(org_id, incident_id), window_days)

    def later_untold(self, org_id: str, incident_id: str, window_days: int = DEFAULT_WINDOW_DAYS) -> bool:
        """True when a (resolved) incident has pattern keys the open incidents sharing them were not yet rechecked
        for, with this window (`mark_later_told`)."""
        return marks_untold(self.marks(org_id, incident_id), window_days)

    def marks(self, org_id: str, incident_id: str) -> PatternMarks:
        """The incident's (signature, checked) from one of its index rows (None when it has no keys)."""
        params = {"org": org_id, "id": incident_id}
        if self._pg:  # asked for a delivered refresh the claim did not read it for: one round trip
            found = scoped_rows(self.engine, _PG_UNCHECKED, params)
        else:
            with self.engine.begin() as conn:
                scope_to_org(conn, org_id)
                found = list(conn.execute(_UNCHECKED, params))
        return (str(found[0][0]), found[0][1]) if found else None

    def pattern_counts(self, org_id: str, keys: Sequence[str], *, project_id: str | None, since: datetime,
                       resolved_by: datetime, exclude: str) -> dict[str, int]:
        """Per key, how many other incidents of exactly this project opened since `since` hold it and were
        resolved by `resolved_by` (keys as given; one index probe per key)."""
        if not keys:
            return {}
        short = {k[:KEY_LENGTH]: k for k in keys}
        if self._pg:  # once per check of changed keys: one round trip, no statement built
            return {short[key]: int(n) for key, n in scoped_rows(self.engine, _PG_COUNTS, {
                "org": org_id, "keys": text_array(short), "since": since, "project": project_id,
                "resolved_by": resolved_by, "exclude": exclude})}
        c = PATTERNS.c
        stmt = (sa.select(c.key, sa.func.count()).where(
            c.org_id == org_id, c.key.in_(list(short)), c.opened_at >= since,
            c.project_id == project_id if project_id else c.project_id.is_(None),
            c.resolved_at.is_not(None), c.resolved_at <= resolved_by, c.incident_id != exclude).group_by(c.key))
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            return {short[key]: int(n) for key, n in conn.execute(stmt)}

    def open_sharing(self, org_id: str, incident_id: str, limit: int = 100, *,
                     opened_since: datetime | None = None) -> list[str]:
        """Open incidents (ids) other than this one holding any of its pattern keys (index probes by key);
        with `opened_since`, only those opened since then."""
        mine = sa.select(PATTERNS.c.key).where(PATTERNS.c.org_id == org_id, PATTERNS.c.incident_id == incident_id)
        stmt = (sa.select(PATTERNS.c.incident_id).distinct()
                .where(PATTERNS.c.org_id == org_id, PATTERNS.c.key.in_(mine.scalar_subquery()),
                       PATTERNS.c.resolved_at.is_(None), PATTERNS.c.incident_id != incident_id,
                       *([PATTERNS.c.opened_at >= opened_since] if opened_since is not None else []))
                .order_by(PATTERNS.c.incident_id).limit(limit))
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            return [str(r[0]) for r in conn.execute(stmt)]

    def mark_recurrence_checked(self, org_id: str, incident_id: str, signature: str,
                                window_days: int = DEFAULT_WINDOW_DAYS) -> None:
        """Record that the incident's keys with this signature were checked with this window (no-op once the
        keys changed)."""
        self._mark(org_id, incident_id, signature, check_mark(signature, window_days))

    def mark_later_told(self, org_id: str, incident_id: str, signature: str,
                        window_days: int = DEFAULT_WINDOW_DAYS) -> None:
        """Record that the open incidents sharing the (resolved) incident's keys with this signature were
        rechecked with this window (no-op once the keys changed)."""
        self._mark(org_id, incident_id, signature, told_mark(signature, window_days))

    def _mark(self, org_id: str, incident_id: str, signature: str, mark: str) -> None:
        if self._pg:
            scoped_rows(self.engine, _PG_MARK, {"org": org_id, "id": incident_id, "signature": signature, "mark": mark})
            return
        stmt = (PATTERNS.update().where(PATTERNS.c.org_id == org_id, PATTERNS.c.incident_id == incident_id,
                                        PATTERNS.c.signature == signature).values(checked=mark))
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            conn.execute(stmt)
