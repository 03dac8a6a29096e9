"""PostgreSQL append: one call to revenant_append (migration 0007) writes events, projection and outbox.

The call runs its statements in order with plans cached per session; a stale expected version
raises serialization_failure inside it, so nothing is written. Because the call fails on its own,
it can travel with its COMMIT (or as an implicit transaction of its own) in one round trip.
SQLite takes the statement-per-table path in unit_of_work.py; the rows written are the same.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
import psycopg
import sqlalchemy as sa
from psycopg.pq import TransactionStatus
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from incident_core.state import IncidentState
from incident_core.usecases import CHANGED_TOPIC
from storage.records import incident_row
from storage.signal_projection import fold_signals
from storage.signal_tail import SignalTail
from storage.state_read import INCIDENTS, state_columns

Statement = tuple[str, dict[str, Any]]

_APPEND = ("SELECT revenant_append(%(org_id)s, %(id)s, %(expected)s, %(events)s::jsonb, %(projection)s::jsonb, "
           "%(outbox)s::jsonb, %(keys)s::jsonb, %(keys_before)s::timestamptz, %(signals)s::jsonb, %(recent)s::jsonb, "
           "%(resolved)s::jsonb, %(points)s::jsonb, %(logs)s::jsonb, %(payloads)s::jsonb, %(state)s::json)")
_BIND = "SELECT set_config('app.org_id', %(org_id)s, true); "
_STATE = sa.select(*state_columns()).where(INCIDENTS.c.id == sa.literal_column("%(id)s"),
                                           INCIDENTS.c.org_id == sa.literal_column("%(org)s"))
_LOAD = ("SELECT set_config('app.org_id', %(org)s, true); "
         + str(_STATE.compile(dialect=postgresql.dialect())).replace("%%", "%"))  # psycopg's %(name)s, unescaped


_ORJSON = orjson.OPT_NON_STR_KEYS  # integer keys become strings, as json.dumps makes them


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def json_rows(rows: Any) -> str:
    """Rows as JSON, their datetimes in ISO form (encoded in the same pass: no copy of each row).

    orjson writes the same JSON values as json.dumps (datetimes as `isoformat()` gives them) about five times
    faster, which is most of an append's Python outside deciding. What it refuses (a lone surrogate, an
    integer past 64 bits) goes through json.dumps, which passes or fails on it as before.
    """
    try:
        return orjson.dumps(rows, option=_ORJSON).decode()
    except TypeError:
        return json.dumps(rows, default=_iso)


def append_statement(*, org_id: str, incident_id: str, expected_version: int, events: list[dict[str, Any]],
                     projection: dict[str, Any], outbox: list[dict[str, Any]], keys: list[dict[str, Any]],
                     keys_before: datetime | None, signals: list[dict[str, Any]],
                     tail: SignalTail, payloads: list[dict[str, Any]]) -> Statement:
    """The call (SQL in psycopg's %(name)s style, and its parameters) that writes one append.

    `keys`/`keys_before` and `signals` are the signal projections' rows (storage/signal_projection.py; the signal
    rows are folded to one per fingerprint here, as the function's one upsert needs),
    `tail` the incident's signal tail rows (storage/signal_tail.py), `payloads` raw delivery payloads to keep.
    The state document travels apart from the rest of the projection row, as `json`: the column is `json`
    (migration 0013_pgcost), so PostgreSQL checks its syntax and stores it, instead of parsing ~16 KB into
    jsonb on every append.
    """
    row = dict(projection)
    state = row.pop("state")
    return _APPEND, {
        "events": json_rows(events), "outbox": json_rows(outbox),
        "projection": json_rows(row), "state": json_rows(state), "id": incident_id, "org_id": org_id,
        "expected": expected_version, "keys": json_rows(keys),
        "keys_before": keys_before, "signals": json_rows(fold_signals(signals)),
        "recent": json_rows(list(tail.recent.values())), "resolved": json_rows(tail.resolved),
        "points": json_rows(list(tail.points.values())), "logs": json_rows(list(tail.logs.values())),
        "payloads": json_rows(payloads),
    }


@dataclass
class PendingAppend:
    """An append waiting to be sent; appends to one incident in one transaction merge into one call.

    A batch of signals that attaches twenty alerts to one incident then rewrites its projection row
    once, not twenty times: the merged call carries every event, the last state, the union of the
    key rows (newest sighting per key) and every signal row in order; its version check is the first
    append's, so a concurrent writer still fails the whole call. The projection row and the statements
    that follow are built from the last state only when the call is sent, not for every append merged.
    """

    org_id: str
    incident_id: str
    expected_version: int
    state: IncidentState  # after this append; its version is the next append's expected version
    events: list[dict[str, Any]]
    outbox: list[dict[str, Any]]
    keys: dict[str, dict[str, Any]] = field(default_factory=dict)
    keys_before: datetime | None = None
    signals: list[dict[str, Any]] = field(default_factory=list)
    tail: SignalTail = field(default_factory=SignalTail)
    payloads: list[dict[str, Any]] = field(default_factory=list)
    # Statements sent right after the call, in the same message, built from the last state: the pattern-key
    # index's replacement (storage/pattern_index.py), when any append merged here changed the incident's keys.
    after: Callable[[IncidentState], list[Statement]] | None = None

    @property
    def version(self) -> int:
        return self.state.version

    def follows(self, other: PendingAppend) -> bool:
        """True when `self` continues `other`'s incident right after it."""
        return self.incident_id == other.incident_id and self.expected_version == other.version

    def absorb(self, later: PendingAppend) -> None:
        self.state = later.state
        self.events += later.events
        self.outbox = fold_refreshes(self.outbox, later.outbox)
        self.keys.update(later.keys)
        self.keys_before = later.keys_before or self.keys_before
        self.signals += later.signals
        self.tail.absorb(later.tail)
        self.payloads += later.payloads
        self.after = later.after or self.after

    def statement(self) -> Statement:
        return append_statement(org_id=self.org_id, incident_id=self.incident_id,
                                expected_version=self.expected_version, events=self.events,
                                projection=incident_row(self.state), outbox=self.outbox,
                                keys=list(self.keys.values()), keys_before=self.keys_before, signals=self.signals,
                                tail=self.tail, payloads=self.payloads)

    def statements(self) -> list[Statement]:
        """The call, then the statements that follow it."""
        return [self.statement(), *(self.after(self.state) if self.after else ())]


def fold_refreshes(earlier: list[dict[str, Any]], later: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Outbox rows of appends merged into one call: an incident's refreshes become one message, at the place
    of the first and named for the last version (its key and payload), listing every event type once.

    A claim would fold them anyway (storage/outbox.py `_coalesce`: its subscribers read the incident's state
    when they run, not the message), so writing one saves a group of 50 alerts 49 rows, their index entries and
    their coalescing. Other topics (an all-clear notice) are kept as they are, in order."""
    rows = list(earlier)
    for row in later:
        incident = row["payload"].get("incident_id") if row["topic"] == CHANGED_TOPIC else None
        at = next((i for i, old in enumerate(rows) if incident is not None and old["topic"] == CHANGED_TOPIC
                   and old["payload"].get("incident_id") == incident), None)
        if at is None:
            rows.append(row)
            continue
        types = [*rows[at]["payload"].get("types", ()), *row["payload"].get("types", ())]
        rows[at] = {**row, "payload": {**row["payload"], "types": list(dict.fromkeys(types))}}
    return rows


def queue_append(pending: list[PendingAppend], append: PendingAppend) -> None:
    """Add `append` to the appends waiting in a transaction, merged into the one for its incident if any."""
    for earlier in pending:
        if append.follows(earlier):
            earlier.absorb(append)
            return
    pending.append(append)


def append_pg(conn: Connection, statement: Statement) -> None:
    """Run an append now, inside the caller's transaction (statements follow it)."""
    sql, params = statement
    conn.exec_driver_sql(sql, params)


def simple_query(dbapi: Any, sql: str, params: dict[str, Any] | None, *, own_transaction: bool) -> psycopg.ClientCursor:
    """Send several statements as one message (simple query protocol, psycopg's client-side binding).

    With own_transaction the connection must be idle: PostgreSQL runs the statements of one simple
    query as one implicit transaction and commits it at the end, so no BEGIN/COMMIT round trips.
    """
    cur = psycopg.ClientCursor(dbapi)
    if not own_transaction:
        cur.execute(sql, params)
        return cur
    dbapi.autocommit = True
    try:
        cur.execute(sql, params)
    finally:
        if dbapi.info.transaction_status == TransactionStatus.IDLE:
            dbapi.autocommit = False
    return cur


def load_state(dbapi: Any, *, org_id: str, incident_id: str) -> tuple[Any, ...] | None:
    """Bind the org and read one state in one round trip, as a read-only transaction of its own.

    Under READ COMMITTED this sees what the same read inside the caller's transaction would have
    seen, and any write decided from it is checked against its version. Row-level security reads
    app.org_id, set by the first statement of the same implicit transaction.
    """
    cur = simple_query(dbapi, _LOAD, {"org": org_id, "id": incident_id}, own_transaction=True)
    try:
        cur.nextset()
        row = cur.fetchone()
    finally:
        cur.close()
    return tuple(row) if row is not None else None


def joined(dbapi: Any, statements: list[Statement]) -> str:
    """Several appends as one SQL text, bound on the client (one message, planned by the function's cache)."""
    cur = psycopg.ClientCursor(dbapi)
    try:
        return "; ".join(cur.mogrify(sql, params) for sql, params in statements)
    finally:
        cur.close()


def write_pending(dbapi: Any, pending: list[PendingAppend]) -> None:
    """Send deferred appends now, in one message, inside the caller's open transaction."""
    simple_query(dbapi, joined(dbapi, [s for a in pending for s in a.statements()]), None,
                  own_transaction=False).close()


def write_and_commit(dbapi: Any, pending: list[PendingAppend]) -> None:
    """Write deferred appends and commit, in one round trip.

    If nothing else ran in this transaction yet, the org is bound and the calls run as an implicit
    transaction of their own; otherwise the calls and COMMIT go as one message. Either way a failing
    call (a stale version, a unique clash) commits nothing and raises here.
    """
    statements = [s for a in pending for s in a.statements()]
    idle = dbapi.info.transaction_status == TransactionStatus.IDLE
    if idle:
        bind = (_BIND.strip().rstrip(";"), {"org_id": statements[0][1]["org_id"]})
        simple_query(dbapi, joined(dbapi, [bind, *statements]), None, own_transaction=True).close()
    else:
        simple_query(dbapi, joined(dbapi, statements) + "; COMMIT", None, own_transaction=False).close()
