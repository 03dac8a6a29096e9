"""The one place that opens write transactions: events, projection and outbox commit together."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from incident_core.errors import ConcurrencyConflict, NotFound
from incident_core.events import Event
from incident_core.ports import OutboxMessage
from incident_core.state import IncidentState
from storage.engine import is_postgres, scope_to_org
from storage.records import event_row, incident_row, row_event, row_state
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

    def __init__(self, conn: Connection, org_id: str) -> None:
        self.conn = conn
        self.org_id = org_id

    def load(self, incident_id: str) -> IncidentState | None:
        row = self.conn.execute(
            sa.select(INCIDENTS.c.state).where(INCIDENTS.c.id == incident_id, INCIDENTS.c.org_id == self.org_id)
        ).first()
        return row_state(row) if row else None

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
        try:
            self.conn.execute(_INSERT_EVENT, rows)
            projection = incident_row(state)
            if expected_version == 0:
                self.conn.execute(_INSERT_INCIDENT, projection)
            else:
                updated = self.conn.execute(
                    INCIDENTS.update().where(INCIDENTS.c.id == state.incident_id,
                                             INCIDENTS.c.org_id == self.org_id,
                                             INCIDENTS.c.version == expected_version).values(projection)
                ).rowcount
                if updated != 1:
                    raise ConcurrencyConflict(f"{state.human_id} changed while you were editing it")
            if outbox:
                self.conn.execute(_INSERT_OUTBOX, [
                    {"org_id": self.org_id, "topic": m.topic, "key": m.key, "payload": m.payload,
                     "created_at": now, "available_at": now, "attempts": 0} for m in outbox
                ])
        except IntegrityError as exc:
            raise ConcurrencyConflict(f"{state.human_id} was changed concurrently; retrying") from exc


class SqlUnitOfWork:
    """Callable that opens an org-scoped transaction; commits on success, rolls back on error."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def __call__(self, org_id: str) -> Iterator[SqlTransaction]:
        try:
            with self.engine.begin() as conn:
                scope_to_org(conn, org_id)
                yield SqlTransaction(conn, org_id)
        except OperationalError as exc:
            # Serialization failures and deadlocks on PostgreSQL, "database is locked" on SQLite.
            if is_postgres(self.engine) and getattr(exc.orig, "sqlstate", "") in ("40001", "40P01"):
                raise ConcurrencyConflict("concurrent update; retrying") from exc
            raise

    @contextmanager
    def connection(self, org_id: str) -> Iterator[Connection]:
        """A raw org-scoped transaction for the storage package's own read/write helpers."""
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            yield conn
