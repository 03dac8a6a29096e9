"""What the reminder scheduler reads and writes: the incidents due a look (reminder index), their latest
events, fired slots, and each incident's next look.

A reminder fires by inserting its outbox message with `ON CONFLICT DO NOTHING` on the outbox's unique
(org_id, key): the key names the reminder's slot, so two schedulers evaluating the same slot write one
row. On PostgreSQL a session advisory lock also elects one scheduler per tick (less duplicate work).
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from incident_core.events import Event
from incident_core.ports import OutboxMessage
from storage.engine import is_postgres, scope_to_org
from storage.reminder_look import Decide, Look, look_batch, recent_events
from storage.reminder_tables import REMINDER_DUE
from storage.tables import ProjectRow
from storage.unit_of_work import ORGS, OUTBOX

log = logging.getLogger("revenant.reminders")
PROJECTS = ProjectRow.__table__  # type: ignore[attr-defined]
__all__ = ["Decide", "SqlReminderLedger"]


class SqlReminderLedger:
    """Reads for the reminder policy and the exactly-once write of a fired reminder."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def orgs(self, ids: Collection[str] | None = None) -> list[tuple[str, dict]]:
        """The given orgs (None: every org) with their settings (directory table: readable without an org scope)."""
        stmt = sa.select(ORGS.c.id, ORGS.c.settings)
        if ids is not None and not ids:
            return []
        with self.engine.begin() as conn:
            if ids is None:
                return [(r.id, dict(r.settings or {})) for r in conn.execute(stmt)]
            wanted = sorted(ids)
            return [(r.id, dict(r.settings or {})) for start in range(0, len(wanted), 1000)
                    for r in conn.execute(stmt.where(ORGS.c.id.in_(wanted[start:start + 1000])))]

    def org_digest_orgs(self) -> set[str]:
        """Orgs whose own settings name a weekly digest (ids only; the tick reads their settings to be sure)."""
        with self.engine.begin() as conn:
            if is_postgres(conn):
                where = "jsonb_typeof(settings -> 'insights' -> 'digest') NOT IN ('null')"
            else:
                where = "json_type(settings, '$.insights.digest') NOT IN ('null')"
            return set(conn.execute(sa.text(f"SELECT id FROM organizations WHERE {where}")).scalars())

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

    def look(self, batch: Sequence[Look]) -> list[tuple[str, OutboxMessage]]:
        """Look at due incidents of several orgs in one transaction (re-scoped per org; storage/reminder_look.py):
        read each with its latest events, write what `decide` says is due (each slot once), and move it to its
        next look (None: out of the index) unless it changed since the index was read. Returns the (org,
        message) written.

        Should one org's look fail, the batch is redone one org per transaction, so the others go through.
        """
        try:
            with self.engine.begin() as conn:
                return look_batch(conn, batch)
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
            return recent_events(conn, org_id, incident_id, types, limit)

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


def _fire(conn: Connection, org_id: str, message: OutboxMessage) -> bool:
    now = datetime.now(UTC)
    row = {"org_id": org_id, "topic": message.topic, "key": message.key, "payload": message.payload,
           "created_at": now, "available_at": now, "attempts": 0}
    insert = postgresql.insert(OUTBOX) if is_postgres(conn) else sqlite.insert(OUTBOX)
    done = conn.execute(insert.values(row).on_conflict_do_nothing(index_elements=["org_id", "key"])
                        .returning(OUTBOX.c.id))
    return done.first() is not None  # RETURNING, not rowcount: drivers disagree on skipped rows
