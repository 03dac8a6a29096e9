"""What the reminder scheduler reads and writes: candidate incidents, their latest events, and fired slots.

A reminder fires by inserting its outbox message with `ON CONFLICT DO NOTHING` on the outbox's unique
(org_id, key): the key names the reminder's slot, so two schedulers evaluating the same slot write one
row. On PostgreSQL a session advisory lock also elects one scheduler per tick (less duplicate work).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from incident_core.events import Event
from incident_core.model import Status
from incident_core.ports import OutboxMessage
from incident_core.state import IncidentState
from storage.engine import is_postgres, scope_to_org
from storage.records import row_event, row_state
from storage.unit_of_work import EVENTS, INCIDENTS, ORGS, OUTBOX

_WATCHED_STATUSES = [s.value for s in Status if s is not Status.CLOSED]


class SqlReminderLedger:
    """Reads for the reminder policy and the exactly-once write of a fired reminder."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def orgs(self) -> list[tuple[str, dict]]:
        """Every org with its settings (directory table: readable without an org scope)."""
        with self.engine.begin() as conn:
            return [(r.id, dict(r.settings or {})) for r in conn.execute(sa.select(ORGS.c.id, ORGS.c.settings))]

    def candidates(self, org_id: str) -> list[IncidentState]:
        """Incidents that may owe a reminder: every one not yet closed."""
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            rows = conn.execute(sa.select(INCIDENTS.c.state).where(
                INCIDENTS.c.org_id == org_id, INCIDENTS.c.status.in_(_WATCHED_STATUSES)))
            return [row_state(r) for r in rows]

    def closed_since(self, org_id: str, since: datetime) -> list[IncidentState]:
        """Incidents closed (last changed) since `since`: the ones whose rooms may be due for archiving."""
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            rows = conn.execute(sa.select(INCIDENTS.c.state).where(
                INCIDENTS.c.org_id == org_id, INCIDENTS.c.status == Status.CLOSED.value,
                INCIDENTS.c.updated_at >= since))
            return [row_state(r) for r in rows]

    def recent(self, org_id: str, incident_id: str, types: Sequence[str], limit: int = 50) -> list[Event]:
        """The incident's latest events of the given types, oldest first."""
        stmt = (sa.select(EVENTS).where(EVENTS.c.org_id == org_id, EVENTS.c.stream_id == incident_id,
                                        EVENTS.c.type.in_(list(types)))
                .order_by(EVENTS.c.stream_version.desc()).limit(limit))
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            return [row_event(r) for r in reversed(conn.execute(stmt).all())]

    def fire(self, org_id: str, message: OutboxMessage) -> bool:
        """Write the reminder's outbox message unless its key was written before; True when written now."""
        now = datetime.now(UTC)
        row = {"org_id": org_id, "topic": message.topic, "key": message.key, "payload": message.payload,
               "created_at": now, "available_at": now, "attempts": 0}
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            insert = postgresql.insert(OUTBOX) if is_postgres(conn) else sqlite.insert(OUTBOX)
            done = conn.execute(insert.values(row).on_conflict_do_nothing(index_elements=["org_id", "key"])
                                .returning(OUTBOX.c.id))
            return done.first() is not None  # RETURNING, not rowcount: drivers disagree on skipped rows

    @contextmanager
    def leader(self, name: str) -> Iterator[bool]:
        """PostgreSQL: True for the one session holding the advisory lock `name`; SQLite: always True."""
        if not is_postgres(self.engine):
            yield True
            return
        key = zlib.crc32(name.encode())
        with self.engine.connect() as conn:
            held = bool(conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
            conn.commit()
            try:
                yield held
            finally:
                if held:
                    conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    conn.commit()
