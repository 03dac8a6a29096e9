"""The one place that opens write transactions: events, projection and outbox commit together."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
import psycopg.errors
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from incident_core.candidate_bound import RecentCandidates
from incident_core.correlation import OpenIncident
from incident_core.errors import ConcurrencyConflict, NotFound
from incident_core.events import Event
from incident_core.ports import OutboxMessage
from incident_core.state import IncidentState
from storage.append_rules import incident_update, payloads_insert
from storage.append_runs import AppendPart, continues, run_append
from storage.candidate_probe import PG_PROBE, SQLITE_PROBE, probe_params
from storage.candidate_sql import (
    LOCK_KEYS,
    OPEN_JSON,
    OPEN_STATUSES,
    SCOPE_AND_LOCK_KEYS,
    candidates_statement,
    driver_sql,
)
from storage.db_errors import is_unavailable, unavailable
from storage.engine import is_postgres, scope_to_org
from storage.pattern_index import patterns_changed, pg_statements, project_patterns
from storage.pg_append import (
    PendingAppend,
    append_pg,
    load_state,
    queue_append,
    write_and_commit,
    write_pending,
)
from storage.raw_payloads import PAYLOADS
from storage.records import event_row, incident_row, json_safe, row_event, utc
from storage.signal_projection import (
    opens_rooms,
    project_keys,
    project_rooms,
    project_signals,
)
from storage.signal_tail import tail_of
from storage.signal_tail_writes import project_tail
from storage.state_cache import StateCache
from storage.state_read import assemble, row_state, state_columns
from storage.tables import EventRow, IncidentRow, Organization, OutboxRow

EVENTS = EventRow.__table__  # type: ignore[attr-defined]
INCIDENTS = IncidentRow.__table__  # type: ignore[attr-defined]
OUTBOX = OutboxRow.__table__  # type: ignore[attr-defined]
ORGS = Organization.__table__  # type: ignore[attr-defined]

_INSERT_EVENT = EVENTS.insert()
_INSERT_INCIDENT = INCIDENTS.insert()
_INSERT_OUTBOX = OUTBOX.insert()


class SqlTransaction:
    """IncidentTransaction over one SQLAlchemy connection, scoped to one org."""

    def __init__(self, conn: Connection, org_id: str, cache: StateCache | None = None) -> None:
        self._conn = conn
        self.org_id = org_id
        self._pg = is_postgres(conn)
        self._scoped = False
        self._cache = cache
        self._read: dict[str, IncidentState] = {}  # states already read in this transaction
        # Versions of candidate incidents, read with the candidates (after the keys were locked): a cached state
        # at that version is the stored state, so it answers a load without reading the row.
        self._versions: dict[str, int] = {}
        self.written: list[IncidentState] = []  # states appended, for the cache once committed
        # PostgreSQL: appends with nothing after them wait to be sent together, with the COMMIT (one round trip
        # for a chat command, and for a whole batch of signals).
        self._pending: list[PendingAppend] = []
        # PostgreSQL: the appends continuing one incident, each after the last, not yet queued: their merged
        # call's rows are built once, when the run ends (storage/append_runs.py).
        self._run: list[AppendPart] = []
        self._payloads_kept: set[str] = set()  # raw payloads written (or queued) in this transaction
        self._payloads: list[dict[str, Any]] = []  # PostgreSQL: queued, sent with the next append
        # PostgreSQL: key locks waiting to be taken together with the candidate lookup (one call, migration
        # 0014_cand), or by whatever statement comes first.
        self._locks: list[str] | None = None

    @property
    def conn(self) -> Connection:
        """The connection, bound to this org before its first statement (row-level security reads it).

        A deferred append is sent first, so every later statement sees it.
        """
        if not self._scoped and self._locks is None:  # deferred key locks bind the org as they are taken
            scope_to_org(self._conn, self.org_id)
            self._scoped = True
        self._flush()
        return self._conn

    def _flush(self) -> None:
        if self._locks is not None:  # taken before anything else is read or written
            params, self._locks = {"keys": json.dumps(self._locks), "org": self.org_id}, None
            self._driver(LOCK_KEYS if self._scoped else SCOPE_AND_LOCK_KEYS, params, flush=False).close()
            self._scoped = True
        self._end_run()
        if self._pending:
            statements, self._pending = self._pending, []
            write_pending(self.conn.connection.dbapi_connection, statements)

    def _end_run(self) -> None:
        """Queue the run's merged call (merged in turn into a queued call it continues)."""
        if self._run:
            run, self._run = self._run, []
            queue_append(self._pending, run_append(self.org_id, run, pg_statements))

    def _known(self, incident_id: str) -> IncidentState | None:
        """A state this transaction read, or the cached one at the version the candidate lookup saw."""
        state = self._read.get(incident_id)
        if state is None and self._cache is not None and incident_id in self._versions:
            cached = self._cache.get(self.org_id, incident_id)
            if cached is not None and cached.version == self._versions[incident_id]:
                self._read[incident_id] = state = cached
        return state

    def load(self, incident_id: str) -> IncidentState | None:
        known = self._known(incident_id)
        if known is not None:
            return known
        if not self._scoped and self._pg and not self._pending and not self._run and self._locks is None:
            # The usual first statement of a unit of work: bind the org and read in one round trip.
            data = load_state(self._conn.connection.dbapi_connection, org_id=self.org_id, incident_id=incident_id)
            state = assemble(*data) if data is not None else None
        else:
            row = self.conn.execute(
                sa.select(*state_columns()).where(INCIDENTS.c.id == incident_id, INCIDENTS.c.org_id == self.org_id)
            ).first()
            state = row_state(row) if row else None
        if state is not None:
            self._read[incident_id] = state
        return state

    def cached(self, incident_id: str) -> IncidentState | None:
        if incident_id in self._read:
            return self._read[incident_id]
        return self._cache.get(self.org_id, incident_id) if self._cache is not None else None

    def commit_pending(self) -> None:
        """PostgreSQL: send a deferred append together with COMMIT (the unit of work's last step)."""
        self._end_run()
        if not self._pending:
            return
        statements, self._pending = self._pending, []
        write_and_commit(self._conn.connection.dbapi_connection, statements)

    @property
    def states(self) -> list[IncidentState]:
        """Every state read or written in this transaction, oldest first."""
        return [*self._read.values(), *self.written]

    def next_incident_number(self) -> int:
        value = self.conn.execute(
            ORGS.update().where(ORGS.c.id == self.org_id).values(incident_seq=ORGS.c.incident_seq + 1)
            .returning(ORGS.c.incident_seq)
        ).scalar()
        if value is None:
            raise NotFound(f"no org {self.org_id!r}")
        return int(value)

    def recorded(self, idempotency_key: str) -> list[Event] | None:
        first = self.conn.execute(
            sa.select(EVENTS).where(EVENTS.c.org_id == self.org_id, EVENTS.c.idempotency_key == idempotency_key)
        ).first()
        if first is None:
            return None
        size = int((first.metadata or {}).get("batch", 1))
        rows = self.conn.execute(
            sa.select(EVENTS).where(
                EVENTS.c.stream_id == first.stream_id, EVENTS.c.org_id == self.org_id,
                EVENTS.c.stream_version >= first.stream_version,
                EVENTS.c.stream_version < first.stream_version + size,
            ).order_by(EVENTS.c.stream_version)
        ).all()
        return [row_event(r) for r in rows]

    def append(self, events: Sequence[Event], *, expected_version: int, state: IncidentState,
               idempotency_key: str | None = None, outbox: Sequence[OutboxMessage] = ()) -> None:
        if not events:
            return
        if any(e.org_id != self.org_id for e in events) or state.org_id != self.org_id:
            raise PermissionError("events for another org cannot be written in this transaction")
        now = datetime.now(UTC)
        rows = []
        for i, e in enumerate(events):
            meta = dict(e.meta)
            if i == 0 and idempotency_key:
                meta["batch"] = len(events)
            rows.append(event_row(e, project_id=state.project_id, recorded_at=now,
                                  idempotency_key=idempotency_key if i == 0 else None, meta=meta))
        outbox_rows = [{"org_id": self.org_id, "topic": m.topic, "key": m.key, "payload": m.payload,
                        "created_at": now, "available_at": now} for m in outbox]
        self.written.append(state)
        before = self.cached(state.incident_id) if expected_version else None
        if self._run and not continues(self._run, state.incident_id, expected_version):
            self._end_run()  # queued first: the calls keep the appends' order
        # the pattern-key index (storage/pattern_index.py): rows rewritten only when the pattern keys change.
        # PostgreSQL: when this append merges into a queued one that rewrites them already (from the merged
        # call's last state), there is nothing to test: a group's 50 alerts then walk the keys once, not 50 times.
        merged = self._pg and self._rewrites_patterns(state.incident_id, expected_version) and not opens_rooms(events)
        patterns = merged or patterns_changed(before if before and before.version == expected_version else None, state)
        self._read[state.incident_id] = state  # a later load in this transaction (a batch) sees this append
        try:
            if self._pg:
                part = AppendPart(expected_version=expected_version, state=state, events=list(events), rows=rows,
                                  outbox=outbox_rows, payloads=self._take_payloads(), patterns=patterns)
                if opens_rooms(events):
                    self._end_run()
                    for statement in run_append(self.org_id, [part], pg_statements).statements():
                        append_pg(self.conn, statement)
                    project_rooms(self.conn, events)
                    return
                self._run.append(part)  # queued when the run ends, sent with the COMMIT or before the next statement
                return
            self.conn.execute(_INSERT_EVENT, rows)
            projection = incident_row(state)
            if expected_version == 0:
                self.conn.execute(_INSERT_INCIDENT, projection)
            else:
                updated = self.conn.execute(
                    incident_update(state.incident_id, self.org_id, expected_version, projection)).rowcount
                if updated != 1:
                    raise ConcurrencyConflict(f"{state.human_id} changed while you were editing it")
            project_keys(self.conn, state, events)
            project_signals(self.conn, events)
            project_tail(self.conn, tail_of(state, events))
            project_rooms(self.conn, events)
            if patterns:
                project_patterns(self.conn, state)
            if outbox_rows:
                self.conn.execute(_INSERT_OUTBOX, [{**r, "attempts": 0} for r in outbox_rows])
        except IntegrityError as exc:
            if not is_version_clash(exc):
                raise
            raise ConcurrencyConflict(f"{state.human_id} was changed concurrently; retrying") from exc


    def _rewrites_patterns(self, incident_id: str, expected_version: int) -> bool:
        """True when the queued append an append at `expected_version` merges into rewrites the pattern rows."""
        if continues(self._run, incident_id, expected_version):
            start = self._run[0]
            if any(part.patterns for part in self._run):
                return True
            incident_id, expected_version = start.state.incident_id, start.expected_version  # what the run follows
        return any(p.after is not None and p.incident_id == incident_id and p.version == expected_version
                   for p in self._pending)

    # --- signal correlation (SignalTransaction) ------------------------------------------------
    def lock_keys(self, keys: Sequence[str]) -> None:
        if not keys or not self._pg:
            return  # SQLite: BEGIN IMMEDIATE already serializes writers
        # The usual first statement of signal ingest: deferred, so that the candidate lookup that follows takes
        # the locks and binds the org in its own round trip (or the first other statement takes them first).
        # The locks are named "<org>:<key>"; the SQL adds the org (the keys travel as one JSON text, migration
        # 0015_keyparam: psycopg adapts a list element by element, in Python).
        self._locks = sorted({*(self._locks or ()), *keys})

    def _driver(self, sql: str, params: dict[str, Any], *, flush: bool = True) -> Any:
        """PostgreSQL: run pre-rendered SQL (`driver_sql`) on the DBAPI connection, bound server-side."""
        if flush:
            self._flush()
        cur = self._conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        cur.execute(sql, params)
        return cur

    def open_incidents(self, keys: Sequence[str], *, project_id: str | None,
                       since: datetime | None) -> list[OpenIncident]:
        if not keys:
            return []
        stmt = candidates_statement(pg=self._pg, project=project_id is not None, since=since is not None)
        params = {"org": self.org_id, "keys": [k[:300] for k in keys], "project": project_id, "since": since,
                  "open": OPEN_STATUSES}
        if self._pg:
            params["keys"], params["open"] = json.dumps(params["keys"]), OPEN_JSON
            if not self._scoped and self._locks is None:
                scope_to_org(self._conn, self.org_id)
                self._scoped = True
            with self._driver(driver_sql(stmt), params) as cur:  # takes pending key locks first
                rows = cur.fetchall()
        else:
            rows = [(r[0], json.loads(r[1]), *r[2:]) for r in self.conn.execute(stmt, params)]
        return [self._candidate(*row) for row in rows]

    def recent_candidates(self, keys: Sequence[str], *, project_id: str | None, per_key: int) -> RecentCandidates:
        if not keys:
            return RecentCandidates(())
        params = probe_params(self.org_id, keys, project_id=project_id, top=per_key, open_statuses=OPEN_STATUSES)
        if self._pg:
            if self._pending or self._run:
                self._flush()  # the lookup sees this transaction's appends (the key locks go first)
            # the batch's key locks, then the lookup, in one call (its statements each see a fresh snapshot)
            params["locks"], self._locks = json.dumps(self._locks or []), None
            with self._driver(PG_PROBE, params, flush=False) as cur:
                rows = cur.fetchall()
            self._scoped = True
        else:
            rows = [(r[0], json.loads(r[1]), *r[2:]) for r in self.conn.execute(SQLITE_PROBE, params)]
        frontier = {keys_[0]: utc(last) for incident_id, keys_, last, *_ in rows if incident_id is None}
        return RecentCandidates(tuple(self._candidate(*row) for row in rows if row[0] is not None), frontier)

    def _candidate(self, incident_id: str, matched_keys: Sequence[str], last: datetime, number: int,
                   created_at: datetime, version: int) -> OpenIncident:
        self._versions[incident_id] = version
        return OpenIncident(incident_id=incident_id, human_id=f"INC-{number}", correlation_keys=frozenset(matched_keys),
                            last_signal_at=utc(last), opened_at=utc(created_at))

    def prefetch(self, incident_ids: Sequence[str]) -> None:
        wanted = sorted({i for i in incident_ids if self._known(i) is None})
        if not wanted:
            return
        rows = self.conn.execute(_PREFETCH, {"org": self.org_id, "ids": wanted})
        for row in rows:
            self._read[row.id] = row_state(row)

    def candidates_known(self) -> bool:
        # the same test as _known, without taking the cached states into this transaction's reads
        for incident_id, version in self._versions.items():
            if incident_id in self._read:
                continue
            cached = self._cache.get(self.org_id, incident_id) if self._cache is not None else None
            if cached is None or cached.version != version:
                return False
        return True

    def stream_version(self, stream_id: str) -> int:
        value = self.conn.execute(sa.select(sa.func.max(EVENTS.c.stream_version)).where(
            EVENTS.c.org_id == self.org_id, EVENTS.c.stream_id == stream_id)).scalar()
        return int(value or 0)

    def keep_payload(self, payload_id: str, payload: Any) -> None:
        if payload_id in self._payloads_kept:
            return
        self._payloads_kept.add(payload_id)
        row = {"org_id": self.org_id, "id": payload_id, "payload": json_safe(payload), "received_at": datetime.now(UTC)}
        if self._pg:
            self._payloads.append(row)  # sent with the append that follows (revenant_append's p_payloads)
        else:
            self._insert_payloads([row])

    def _take_payloads(self) -> list[dict[str, Any]]:
        rows, self._payloads = self._payloads, []
        return rows

    def _insert_payloads(self, rows: list[dict[str, Any]]) -> None:
        insert = (postgresql if self._pg else sqlite).insert(PAYLOADS)
        self.conn.execute(payloads_insert(insert), rows)

    def append_log(self, events: Sequence[Event], *, idempotency_key: str | None = None) -> None:
        if self._payloads:
            self._insert_payloads(self._take_payloads())
        now = datetime.now(UTC)
        rows = [event_row(e, project_id=None, recorded_at=now, idempotency_key=idempotency_key if i == 0 else None,
                          meta={**e.meta, **({"batch": len(events)} if i == 0 and idempotency_key else {})})
                for i, e in enumerate(events)]
        try:
            self.conn.execute(_INSERT_EVENT, rows)
            project_signals(self.conn, events)
        except IntegrityError as exc:
            if not is_version_clash(exc):
                raise
            raise ConcurrencyConflict("the signal log changed concurrently; retrying") from exc


_ORG = sa.bindparam("org", type_=sa.String)
_PREFETCH = sa.select(INCIDENTS.c.id, *state_columns()).where(
    INCIDENTS.c.org_id == _ORG, INCIDENTS.c.id.in_(sa.bindparam("ids", expanding=True)))


# Unique constraints whose violation means "someone else appended first": reload and decide again.
_CLASHES = ("uq_events_stream_version", "uq_events_org_idempotency", "incidents_pkey", "uq_incidents_org_number")
_SQLITE_CLASHES = ("events.stream_id, events.stream_version", "events.org_id, events.idempotency_key",
                   "incidents.id", "incidents.org_id, incidents.number")


def is_version_clash(exc: IntegrityError) -> bool:
    """True for optimistic-concurrency clashes; other integrity errors are bugs and propagate."""
    return _is_clash(exc.orig)


def _is_clash(orig: BaseException | None) -> bool:
    diag = getattr(orig, "diag", None)
    name = getattr(diag, "constraint_name", None)
    if name:
        return name in _CLASHES
    return any(text in str(orig) for text in _SQLITE_CLASHES)


_RETRYABLE_SQLSTATES = ("40001", "40P01")  # serialization failure (also a stale version), deadlock


class SqlUnitOfWork:
    """Callable that opens an org-scoped transaction; commits on success, rolls back on error.

    States read and written by committed transactions go into `cache`, which later transactions of
    this process may use as a guess (see IncidentTransaction.cached); any failure evicts them.
    """

    def __init__(self, engine: Engine, cache: StateCache | None = None) -> None:
        self.engine = engine
        self.cache = cache if cache is not None else StateCache()

    @contextmanager
    def __call__(self, org_id: str) -> Iterator[SqlTransaction]:
        tx: SqlTransaction | None = None
        try:
            with self.engine.begin() as conn:
                tx = SqlTransaction(conn, org_id, self.cache)  # binds the org lazily, with its first statement
                yield tx
                tx.commit_pending()
        except IntegrityError as exc:
            self._forget(tx)
            # A deferred append sent before a later statement of a batch clashed (a version or a key).
            if is_version_clash(exc):
                raise ConcurrencyConflict("a signal or an incident was recorded concurrently; retrying") from exc
            raise
        except OperationalError as exc:
            self._forget(tx)
            # Serialization failures and deadlocks on PostgreSQL, "database is locked" on SQLite.
            if is_postgres(self.engine) and getattr(exc.orig, "sqlstate", "") in _RETRYABLE_SQLSTATES:
                raise ConcurrencyConflict("the incident changed concurrently; retrying") from exc
            raise
        except psycopg.Error as exc:  # raised by write_and_commit (the append sent with its COMMIT)
            self._forget(tx)
            if exc.sqlstate in _RETRYABLE_SQLSTATES or (
                    isinstance(exc, psycopg.errors.UniqueViolation) and _is_clash(exc)):
                raise ConcurrencyConflict("the incident changed concurrently; retrying") from exc
            if is_unavailable(exc):
                raise unavailable(exc) from exc
            raise
        except BaseException:
            self._forget(tx)
            raise
        for state in tx.states:
            self.cache.put(state)

    def _forget(self, tx: SqlTransaction | None) -> None:
        for state in tx.states if tx is not None else ():
            self.cache.evict(state.org_id, state.incident_id)

    @contextmanager
    def connection(self, org_id: str) -> Iterator[Connection]:
        """A raw org-scoped transaction for the storage package's own read/write helpers."""
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            yield conn
