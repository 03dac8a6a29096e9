"""Outbox delivery bookkeeping: claim due messages, mark them delivered or schedule a retry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storage.engine import is_postgres, scope_to_org
from storage.unit_of_work import OUTBOX

MAX_BACKOFF = timedelta(minutes=30)
LEASE = timedelta(minutes=2)


@dataclass(frozen=True)
class PendingMessage:
    id: int
    org_id: str
    topic: str
    key: str
    payload: dict[str, Any]
    attempts: int


class SqlOutbox:
    """At-least-once delivery: a message stays pending until a handler confirms it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def process(self, org_id: str, handler: Any, *, limit: int = 50, lease: timedelta = LEASE) -> int:
        """Claim up to `limit` due messages, hand each to `handler` outside any transaction, record results.

        Claiming moves `available_at` forward by a lease (FOR UPDATE SKIP LOCKED on PostgreSQL), so
        other workers skip them while this one works, and a crashed worker's messages come back
        after the lease. handler(message) returning normally means delivered; an exception
        schedules a retry with exponential backoff and records the error. Returns how many were delivered.
        """
        claimed = self._claim(org_id, limit, lease)
        delivered = 0
        for msg in claimed:
            try:
                handler(msg)
            except Exception as exc:  # noqa: BLE001 — any failure means "retry later"
                backoff = min(MAX_BACKOFF, timedelta(seconds=2 ** min(msg.attempts, 11)))
                self._finish(org_id, msg.id, attempts=msg.attempts + 1,
                             available_at=datetime.now(UTC) + backoff, last_error=str(exc)[:2000])
                continue
            self._finish(org_id, msg.id, attempts=msg.attempts + 1, delivered_at=datetime.now(UTC),
                         last_error=None)
            delivered += 1
        return delivered

    def _claim(self, org_id: str, limit: int, lease: timedelta) -> list[PendingMessage]:
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            stmt = (sa.select(OUTBOX).where(OUTBOX.c.org_id == org_id, OUTBOX.c.delivered_at.is_(None),
                                            OUTBOX.c.available_at <= now)
                    .order_by(OUTBOX.c.id).limit(limit))
            if is_postgres(conn):
                stmt = stmt.with_for_update(skip_locked=True)
            rows = conn.execute(stmt).all()
            if rows:
                conn.execute(OUTBOX.update().where(OUTBOX.c.id.in_([r.id for r in rows]))
                             .values(available_at=now + lease))
        return [PendingMessage(id=r.id, org_id=r.org_id, topic=r.topic, key=r.key, payload=dict(r.payload),
                               attempts=r.attempts) for r in rows]

    def _finish(self, org_id: str, message_id: int, **values: Any) -> None:
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            conn.execute(OUTBOX.update().where(OUTBOX.c.id == message_id).values(**values))

    def due_orgs(self) -> list[str]:
        """Orgs with outbox messages due now; on PostgreSQL through revenant_due_orgs (migration 0008_i13),
        which shows the app role org ids and nothing else of other orgs' rows."""
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            if is_postgres(conn):
                return list(conn.execute(sa.text("SELECT revenant_due_orgs(:now)"), {"now": now}).scalars())
            rows = conn.execute(sa.select(OUTBOX.c.org_id).where(
                OUTBOX.c.delivered_at.is_(None), OUTBOX.c.available_at <= now).distinct())
            return [r.org_id for r in rows]

    def pending(self, org_id: str) -> int:
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            return int(conn.execute(sa.select(sa.func.count()).select_from(OUTBOX).where(
                OUTBOX.c.org_id == org_id, OUTBOX.c.delivered_at.is_(None))).scalar() or 0)
