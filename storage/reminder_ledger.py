"""What the reminder scheduler reads and writes: the incidents due a look (reminder index), their latest
events, fired slots, and each incident's next look.

A reminder fires by inserting its outbox message with `ON CONFLICT DO NOTHING` on the outbox's unique
(org_id, key): the key names the reminder's slot, so two schedulers evaluating the same slot write one
row. On PostgreSQL a session advisory lock also elects one scheduler per tick (less duplicate work).
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from incident_core.events import Event
from incident_core.model import Status
from incident_core.ports import OutboxMessage
from incident_core.reminders import WATCHED_TYPES
from incident_core.state import IncidentState
from storage.engine import is_postgres, scope_to_org
from storage.records import row_event
from storage.reminder_tables import REMINDER_DUE
from storage.state_read import row_state, state_columns
from storage.tables import ProjectRow
from storage.unit_of_work import EVENTS, INCIDENTS, ORGS, OUTBOX

log = logging.getLogger("revenant.reminders")
PROJECTS = ProjectRow.__table__  # type: ignore[attr-defined]
# (state, its latest watched events) -> (messages due now, the next look or None)
Decide = Callable[[IncidentState, list[Event]], tuple[list[OutboxMessage], datetime | None]]


class SqlReminderLedger:
    """Reads for the reminder policy and the exactly-once write of a fired reminder."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def orgs(self) -> list[tuple[str, dict]]:
        """Every org with its settings (directory table: readable without an org scope)."""
        with self.engine.begin() as conn:
            return [(r.id, dict(r.settings or {})) for r in conn.execute(sa.select(ORGS.c.id, ORGS.c.settings))]

    def candidates(self, org_id: str) -> list[IncidentState]:
        """The org's incidents not yet closed."""
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            rows = conn.execute(sa.select(*state_columns()).where(
                INCIDENTS.c.org_id == org_id, INCIDENTS.c.status != Status.CLOSED.value))
            return [row_state(r) for r in rows]

    def due(self, now: datetime, limit: int = 5000) -> list[tuple[str, str, int]]:
        """(org, incident, seq) of incidents the tick must look at now, from the reminder index, oldest first.

        PostgreSQL: through revenant_due_reminders (migration 0009_i15ob): ids only, across orgs.
        """
        with self.engine.begin() as conn:
            if is_postgres(conn):
                rows = conn.execute(sa.text("SELECT * FROM revenant_due_reminders(:now, :n)"),
                                    {"now": now, "n": limit}).all()
            else:
                rows = conn.execute(sa.select(REMINDER_DUE.c.org_id, REMINDER_DUE.c.incident_id, REMINDER_DUE.c.seq)
                                    .where(REMINDER_DUE.c.due_at <= now).order_by(REMINDER_DUE.c.due_at)
                                    .limit(limit)).all()
            return [(r.org_id, r.incident_id, int(r.seq)) for r in rows]

    def digest_orgs(self) -> set[str]:
        """Orgs with a weekly digest configured on one of their projects (ids only)."""
        with self.engine.begin() as conn:
            if is_postgres(conn):
                return set(conn.execute(sa.text("SELECT revenant_digest_orgs()")).scalars())
            rows = conn.execute(sa.select(PROJECTS.c.org_id, PROJECTS.c.settings))
            return {r.org_id for r in rows if ((r.settings or {}).get("insights") or {}).get("digest")}

    def look(self, batch: Sequence[tuple[str, dict[str, int], Decide]]) -> list[tuple[str, OutboxMessage]]:
        """Look at due incidents of several orgs in one transaction (re-scoped per org): read each with its
        latest events, write what `decide` says is due (each slot once), and move it to its next look (None:
        out of the index) unless it changed since the index was read. Returns the (org, message) written.

        Should one org's look fail, the batch is redone one org per transaction, so the others go through.
        """
        try:
            with self.engine.begin() as conn:
                return [w for org_id, seqs, decide in batch for w in _look(conn, org_id, seqs, decide)]
        except Exception:
            if len(batch) == 1:
                raise
        written: list[tuple[str, OutboxMessage]] = []
        for one in batch:
            try:
                written += self.look([one])
            except Exception:  # noqa: BLE001 — this org stays due; the next tick tries it again
                log.exception("reminder look at org %s failed", one[0])
        return written

    def recent(self, org_id: str, incident_id: str, types: Sequence[str], limit: int = 50) -> list[Event]:
        """The incident's latest events of the given types, oldest first."""
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            return _recent(conn, org_id, incident_id, types, limit)

    def fire(self, org_id: str, message: OutboxMessage) -> bool:
        """Write the message unless its key was written before; True when written now."""
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            return _fire(conn, org_id, message)

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


def _recent(conn: Connection, org_id: str, incident_id: str, types: Sequence[str], limit: int = 50) -> list[Event]:
    stmt = (sa.select(EVENTS).where(EVENTS.c.org_id == org_id, EVENTS.c.stream_id == incident_id,
                                    EVENTS.c.type.in_(list(types)))
            .order_by(EVENTS.c.stream_version.desc()).limit(limit))
    return [row_event(r) for r in reversed(conn.execute(stmt).all())]


def _fire(conn: Connection, org_id: str, message: OutboxMessage) -> bool:
    now = datetime.now(UTC)
    row = {"org_id": org_id, "topic": message.topic, "key": message.key, "payload": message.payload,
           "created_at": now, "available_at": now, "attempts": 0}
    insert = postgresql.insert(OUTBOX) if is_postgres(conn) else sqlite.insert(OUTBOX)
    done = conn.execute(insert.values(row).on_conflict_do_nothing(index_elements=["org_id", "key"])
                        .returning(OUTBOX.c.id))
    return done.first() is not None  # RETURNING, not rowcount: drivers disagree on skipped rows


def _look(conn: Connection, org_id: str, seqs: dict[str, int], decide: Decide) -> list[tuple[str, OutboxMessage]]:
    scope_to_org(conn, org_id)
    rows = conn.execute(sa.select(INCIDENTS.c.id, *state_columns()).where(
        INCIDENTS.c.org_id == org_id, INCIDENTS.c.id.in_(list(seqs)))).all()
    looks: dict[str, datetime | None] = dict.fromkeys(seqs)
    written: list[tuple[str, OutboxMessage]] = []
    for row in rows:
        messages, looks[row.id] = decide(row_state(row), _recent(conn, org_id, row.id, WATCHED_TYPES))
        written += [(org_id, m) for m in messages if _fire(conn, org_id, m)]
    for incident_id, at in looks.items():
        match = (REMINDER_DUE.c.org_id == org_id, REMINDER_DUE.c.incident_id == incident_id,
                 REMINDER_DUE.c.seq == seqs[incident_id])
        if at is None:
            conn.execute(REMINDER_DUE.delete().where(*match))
        else:
            conn.execute(REMINDER_DUE.update().where(*match).values(due_at=at))
    return written
