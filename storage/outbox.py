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

    def process(self, org_id: str, handler: Any, *, limit: int = 50) -> int:
        """Claim up to `limit` due messages (SKIP LOCKED on PostgreSQL) and hand each to handler.

        handler(message) returns normally when delivered; an exception schedules a retry with
        exponential backoff and records the error. Returns how many were delivered.
        """
        delivered = 0
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            stmt = (sa.select(OUTBOX).where(OUTBOX.c.org_id == org_id, OUTBOX.c.delivered_at.is_(None),
                                            OUTBOX.c.available_at <= now)
                    .order_by(OUTBOX.c.id).limit(limit))
            if is_postgres(conn):
                stmt = stmt.with_for_update(skip_locked=True)
            rows = conn.execute(stmt).all()
            for row in rows:
                msg = PendingMessage(id=row.id, org_id=row.org_id, topic=row.topic, key=row.key,
                                     payload=dict(row.payload), attempts=row.attempts)
                try:
                    handler(msg)
                except Exception as exc:  # noqa: BLE001 — any failure means "retry later"
                    backoff = min(MAX_BACKOFF, timedelta(seconds=2 ** min(row.attempts, 11)))
                    conn.execute(OUTBOX.update().where(OUTBOX.c.id == row.id).values(
                        attempts=row.attempts + 1, available_at=now + backoff, last_error=str(exc)[:2000]))
                    continue
                conn.execute(OUTBOX.update().where(OUTBOX.c.id == row.id).values(
                    attempts=row.attempts + 1, delivered_at=datetime.now(UTC), last_error=None))
                delivered += 1
        return delivered

    def pending(self, org_id: str) -> int:
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            return int(conn.execute(sa.select(sa.func.count()).select_from(OUTBOX).where(
                OUTBOX.c.org_id == org_id, OUTBOX.c.delivered_at.is_(None))).scalar() or 0)
