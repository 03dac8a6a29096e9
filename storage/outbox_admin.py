"""What operators and monitoring see of deliveries: dead letters per org (retry, drop), and counts across orgs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from storage.delivery_tables import DELIVERIES
from storage.engine import is_postgres, scope_to_org
from storage.records import utc
from storage.unit_of_work import OUTBOX


@dataclass(frozen=True)
class DeadLetter:
    message_id: int
    topic: str
    key: str
    subscriber: str
    attempts: int
    failed_at: datetime
    last_error: str | None


@dataclass(frozen=True)
class DeliveryCount:
    """One line of the cross-org summary: `state` is retrying, dead or due (due: messages, subscriber '')."""

    org_id: str
    subscriber: str
    state: str
    count: int
    oldest: datetime | None


class SqlOutboxAdmin:
    """Dead letters of one org, and delivery counts of every org (ids and counts only)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def dead_letters(self, org_id: str, limit: int = 200) -> list[DeadLetter]:
        """The org's dead deliveries, most recent first."""
        stmt = (sa.select(DELIVERIES, OUTBOX.c.topic, OUTBOX.c.key)
                .join(OUTBOX, sa.and_(OUTBOX.c.id == DELIVERIES.c.message_id, OUTBOX.c.org_id == DELIVERIES.c.org_id))
                .where(DELIVERIES.c.org_id == org_id, DELIVERIES.c.state == "dead")
                .order_by(DELIVERIES.c.updated_at.desc(), DELIVERIES.c.message_id.desc()).limit(limit))
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            return [DeadLetter(message_id=r.message_id, topic=r.topic, key=r.key, subscriber=r.subscriber,
                               attempts=r.attempts, failed_at=utc(r.updated_at), last_error=r.last_error)
                    for r in conn.execute(stmt)]

    def summary(self, org_id: str) -> dict[str, int | float | None]:
        """Counts for one org: messages pending and due, deliveries retrying and dead, the oldest due message's age."""
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            pending = OUTBOX.c.delivered_at.is_(None)
            row = conn.execute(sa.select(
                sa.func.count().filter(pending), sa.func.count().filter(pending, OUTBOX.c.available_at <= now),
                sa.func.min(OUTBOX.c.created_at).filter(pending, OUTBOX.c.available_at <= now))
                .where(OUTBOX.c.org_id == org_id)).one()
            label = _state_label().label("st")
            states = dict(conn.execute(sa.select(label, sa.func.count()).where(
                DELIVERIES.c.org_id == org_id, DELIVERIES.c.state.in_(["pending", "dead"])).group_by(label)).all())
        oldest = utc(row[2]) if row[2] is not None else None
        return {"pending_messages": int(row[0]), "due_messages": int(row[1]),
                "retrying_deliveries": int(states.get("retrying", 0)), "dead_deliveries": int(states.get("dead", 0)),
                "oldest_due_seconds": round((now - oldest).total_seconds(), 1) if oldest else None}

    def retry(self, org_id: str, *, message_id: int | None = None, subscriber: str | None = None) -> int:
        """Dead deliveries (all, or one message's, or one subscriber's) start over now; returns how many."""
        return self._revive(org_id, ("dead",), message_id, subscriber, state="pending")

    def drop(self, org_id: str, *, message_id: int | None = None, subscriber: str | None = None) -> int:
        """Give dead deliveries up for good (kept as `dropped`); returns how many."""
        return self._revive(org_id, ("dead",), message_id, subscriber, state="dropped")

    def expedite(self, org_id: str) -> int:
        """Everything the org still owes becomes due now (pending messages and retrying deliveries)."""
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            conn.execute(DELIVERIES.update().where(DELIVERIES.c.org_id == org_id, DELIVERIES.c.state == "pending")
                         .values(available_at=now))
            return int(conn.execute(OUTBOX.update().where(OUTBOX.c.org_id == org_id, OUTBOX.c.delivered_at.is_(None))
                                    .values(available_at=now, lease_owner=None)).rowcount or 0)

    def counts(self) -> list[DeliveryCount]:
        """Every org's retrying and dead deliveries per subscriber, and its due messages with the oldest one's age.

        PostgreSQL: through revenant_delivery_stats (migration 0009_i15o), which returns ids and counts only.
        """
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            if is_postgres(conn):
                rows = conn.execute(sa.text("SELECT * FROM revenant_delivery_stats(:now)"), {"now": now}).all()
                return [DeliveryCount(r.org_id, r.subscriber, r.state, int(r.n), utc(r.oldest) if r.oldest else None)
                        for r in rows]
            return _sqlite_counts(conn, now)

    def _revive(self, org_id: str, from_states: tuple[str, ...], message_id: int | None, subscriber: str | None,
                *, state: str) -> int:
        now = datetime.now(UTC)
        where = [DELIVERIES.c.org_id == org_id, DELIVERIES.c.state.in_(from_states)]
        if message_id is not None:
            where.append(DELIVERIES.c.message_id == message_id)
        if subscriber is not None:
            where.append(DELIVERIES.c.subscriber == subscriber)
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            ids = sorted(set(conn.execute(sa.select(DELIVERIES.c.message_id).where(*where)).scalars()))
            changed = conn.execute(DELIVERIES.update().where(*where).values(
                state=state, attempts=0 if state == "pending" else DELIVERIES.c.attempts, available_at=now,
                updated_at=now)).rowcount or 0
            if state == "pending" and ids:  # the messages are owed again
                conn.execute(OUTBOX.update().where(OUTBOX.c.org_id == org_id, OUTBOX.c.id.in_(ids))
                             .values(delivered_at=None, available_at=now, lease_owner=None))
            return int(changed)


def _state_label() -> sa.ColumnElement[str]:
    return sa.case((sa.and_(DELIVERIES.c.state == "pending", DELIVERIES.c.attempts > 0), "retrying"),
                   else_=DELIVERIES.c.state)


def _sqlite_counts(conn: Connection, now: datetime) -> list[DeliveryCount]:
    label = _state_label().label("state")
    out = [DeliveryCount(r.org_id, r.subscriber, r.state, int(r.n), None) for r in conn.execute(
        sa.select(DELIVERIES.c.org_id, DELIVERIES.c.subscriber, label, sa.func.count().label("n"))
        .where(DELIVERIES.c.state.in_(["pending", "dead"]))
        .group_by(DELIVERIES.c.org_id, DELIVERIES.c.subscriber, label))]
    out += [DeliveryCount(r.org_id, "", "due", int(r.n), utc(r.oldest) if r.oldest else None) for r in conn.execute(
        sa.select(OUTBOX.c.org_id, sa.func.count().label("n"), sa.func.min(OUTBOX.c.created_at).label("oldest"))
        .where(OUTBOX.c.delivered_at.is_(None), OUTBOX.c.available_at <= now).group_by(OUTBOX.c.org_id))]
    return out

