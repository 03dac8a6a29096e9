"""Outbox delivery bookkeeping: claim one due message under a lease, record each subscriber's outcome.

A message is claimed alone (never a batch), so a process that dies holds at most the message it was
working on, and only until its lease runs out; the holder extends the lease while it works
(`extend`). Claims take the row with FOR UPDATE SKIP LOCKED on PostgreSQL, where claim, record and
release are one round trip each, and a release with the next claim one round trip and one commit
(`release_then_claim`, outbox_pg.py); SQLite writers queue on BEGIN IMMEDIATE. Each
subscriber's outcome is written as soon as it is known (`outbox_deliveries`), so a retry or another
process runs only the subscribers not yet done.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection, Engine

from incident_core.delivery_policy import RetryPolicy, SubscriberState
from incident_core.delivery_snapshot import Prefetched
from incident_core.usecases import CHANGED_TOPIC
from storage import outbox_pg as pg
from storage.delivery_tables import DELIVERIES
from storage.engine import is_postgres, scope_to_org
from storage.pg_scoped import scoped_rows
from storage.records import utc
from storage.state_read import assemble
from storage.unit_of_work import OUTBOX

LEASE = timedelta(seconds=20)
COALESCED_TOPIC = CHANGED_TOPIC  # refreshes that render the incident's current state
LEGACY_SUBSCRIBER = "handler"


@dataclass(frozen=True)
class PendingMessage:
    id: int
    org_id: str
    topic: str
    key: str
    payload: dict[str, Any]
    attempts: int
    created_at: datetime | None = None
    deliveries: Mapping[str, SubscriberState] = field(default_factory=dict)
    coalesced: int = 0  # other refreshes of the same incident this delivery covers
    deferred_until: datetime | None = None  # claimed only to be deferred (its incident settling): not leased
    deferred_due: datetime | None = None  # the earliest time a refresh this claim deferred (`settling`) falls due
    prefetched: Prefetched | None = None  # its incident's state and index marks, read by the claim (`prefetch`)


@dataclass(frozen=True)
class Outcome:
    """One subscriber's result for one message: delivered, pending again at `available_at`, or dead."""

    subscriber: str
    state: str
    attempts: int
    available_at: datetime | None = None
    error: str | None = None


@dataclass(frozen=True)
class Release:
    """A lease to give back with the last outcomes (`SqlOutbox.release`), possibly sent with the next claim."""

    msg: PendingMessage
    owner: str
    next_at: datetime | None
    error: str | None = None
    outcomes: Sequence[Outcome] = ()


class SqlOutbox:
    """At-least-once delivery: a message stays pending until every subscriber is done with it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._pg = is_postgres(engine)  # PostgreSQL: claim, record and release in one round trip each (outbox_pg.py)

    # --- claiming and leases ------------------------------------------------------------------
    def claim(self, org_id: str, *, owner: str, lease: timedelta = LEASE, coalesce: bool = True,
              settling: Mapping[str, datetime] | None = None, prefetch: bool = False) -> PendingMessage | None:
        """The org's oldest due message, leased to `owner`; with `coalesce`, other not-yet-started refreshes of
        its incident are marked delivered by it (its subscribers render the incident as it is now).

        `settling` (incident id -> a later time): the oldest due refresh of each of those incidents that no
        subscriber has touched (unless the incident has a deferred one already) is deferred to that time in the same
        transaction (as `defer` would), the incidents' other fresh refreshes wait for it, and the oldest other due
        message is claimed; with none, the oldest refresh deferred is returned (`deferred_until`: not leased).
        `deferred_due` says when the earliest refresh deferred here falls due.
        `prefetch`: on PostgreSQL a leased message naming an incident carries the incident's state and pattern
        marks, read in the claim's statement (`prefetched`; outbox_pg.CLAIM)."""
        now = datetime.now(UTC)
        if self._pg:
            return self._claim_pg(org_id, owner=owner, until=now + lease, now=now, coalesce=coalesce,
                                  settling=settling or {}, prefetch=prefetch)
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            deferring = _defer_settling(conn, org_id, now, settling or {})  # seen as deferred from here on
            due = min(deferring.values()) if deferring else None
            stmt = (sa.select(OUTBOX).where(OUTBOX.c.org_id == org_id, OUTBOX.c.delivered_at.is_(None),
                                            OUTBOX.c.available_at <= now, OUTBOX.c.id.not_in(list(deferring)))
                    .order_by(OUTBOX.c.id).limit(1))
            if coalesce:
                stmt = stmt.where(~_waits_for_deferred(org_id, now))
            row = conn.execute(stmt).first()
            if row is None:
                if not deferring:
                    return None
                first = conn.execute(sa.select(OUTBOX).where(OUTBOX.c.org_id == org_id,
                                                             OUTBOX.c.id == min(deferring))).one()
                return PendingMessage(id=first.id, org_id=first.org_id, topic=first.topic, key=first.key,
                                      payload=dict(first.payload), attempts=first.attempts,
                                      created_at=utc(first.created_at), deferred_until=deferring[first.id],
                                      deferred_due=due)
            deliveries = {r.subscriber: SubscriberState(r.state, r.attempts, utc(r.available_at)) for r in conn.execute(
                sa.select(DELIVERIES.c.subscriber, DELIVERIES.c.state, DELIVERIES.c.attempts,
                          DELIVERIES.c.available_at)
                .where(DELIVERIES.c.org_id == org_id, DELIVERIES.c.message_id == row.id))}
            conn.execute(OUTBOX.update().where(OUTBOX.c.org_id == org_id, OUTBOX.c.id == row.id)
                         .values(available_at=now + lease, lease_owner=owner))
            coalesced = 0
            if coalesce and row.topic == COALESCED_TOPIC and not any(s.state == "delivered" for s in deliveries.values()):
                coalesced = _coalesce(conn, org_id, row, now, keep=list(deferring))
        return PendingMessage(id=row.id, org_id=row.org_id, topic=row.topic, key=row.key, payload=dict(row.payload),
                              attempts=row.attempts, created_at=utc(row.created_at), deliveries=deliveries,
                              coalesced=coalesced, deferred_due=due)

    def _claim_pg(self, org_id: str, *, owner: str, until: datetime, now: datetime,
                  coalesce: bool, settling: Mapping[str, datetime], prefetch: bool) -> PendingMessage | None:
        return self._pending(org_id, scoped_rows(self.engine, pg.CLAIM, pg.claim_params(
            org_id=org_id, owner=owner, now=now, until=until, coalesce=coalesce, topic=COALESCED_TOPIC,
            settling=settling, prefetch=prefetch)))

    @staticmethod
    def _pending(org_id: str, rows: Sequence[tuple[Any, ...]]) -> PendingMessage | None:
        """The message CLAIM's rows describe (None: nothing claimed)."""
        if not rows:
            return None
        (message_id, topic, key, payload, attempts, created_at, states, coalesced, deferred,
         document, recent, points, logs, signature, checked, deferred_due) = rows[0]
        deliveries = {str(name): SubscriberState(str(state), int(n), utc(datetime.fromisoformat(at)))
                      for name, state, n, at in states or ()}
        prefetched = None
        if document is not None:  # asked for, leased, and its incident found
            prefetched = Prefetched(org_id=org_id, incident_id=str(payload["incident_id"]),
                                    state=assemble(document, recent, points, logs),
                                    marks=(str(signature), checked) if signature is not None else None)
        return PendingMessage(id=message_id, org_id=org_id, topic=topic, key=key, payload=dict(payload),
                              attempts=attempts, created_at=utc(created_at), deliveries=deliveries,
                              coalesced=int(coalesced), deferred_until=utc(deferred) if deferred else None,
                              deferred_due=utc(deferred_due) if deferred_due else None, prefetched=prefetched)

    def extend(self, org_id: str, message_ids: list[int], *, owner: str, lease: timedelta = LEASE) -> int:
        """Heartbeat: push the leases `owner` still holds forward; returns how many it still holds."""
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            return int(conn.execute(OUTBOX.update().where(
                OUTBOX.c.org_id == org_id, OUTBOX.c.id.in_(message_ids), OUTBOX.c.lease_owner == owner,
                OUTBOX.c.delivered_at.is_(None)).values(available_at=datetime.now(UTC) + lease)).rowcount or 0)

    def defer(self, msg: PendingMessage, *, owner: str, until: datetime) -> bool:
        """Give the lease back untouched, due again at `until` (no attempt counted); False if the lease was lost.

        A refresh of an incident rendered moments ago waits out its window this way; the changes that arrive
        meanwhile are folded into it when it is claimed again."""
        with self.engine.begin() as conn:
            scope_to_org(conn, msg.org_id)
            return bool(conn.execute(OUTBOX.update().where(
                OUTBOX.c.org_id == msg.org_id, OUTBOX.c.id == msg.id, OUTBOX.c.lease_owner == owner,
                OUTBOX.c.delivered_at.is_(None)).values(available_at=until, lease_owner=None)).rowcount)

    def record(self, msg: PendingMessage, outcomes: Sequence[Outcome]) -> None:
        """Write subscribers' outcomes for one message (delivered, pending again at a time, dead)."""
        if self._pg:
            if outcomes:
                scoped_rows(self.engine, pg.RECORD, {"org": msg.org_id, "id": msg.id, "now": datetime.now(UTC),
                                                     "outcomes": pg.outcome_rows(outcomes)})
            return
        with self.engine.begin() as conn:
            scope_to_org(conn, msg.org_id)
            _write_outcomes(conn, msg, outcomes)

    def release(self, msg: PendingMessage, *, owner: str, next_at: datetime | None, error: str | None = None,
                outcomes: Sequence[Outcome] = ()) -> bool:
        """Write the last outcomes and give the lease back in one transaction: delivered (next_at None) or due
        again at next_at. False if the lease was lost (the outcomes are written all the same)."""
        now = datetime.now(UTC)
        if self._pg:
            return bool(scoped_rows(self.engine, pg.RELEASE, pg.release_params(
                org_id=msg.org_id, message_id=msg.id, owner=owner, attempts=msg.attempts + 1,
                error=error[:2000] if error else None, next_at=next_at, now=now, outcomes=outcomes)))
        values: dict[str, Any] = {"lease_owner": None, "attempts": msg.attempts + 1,
                                  "last_error": error[:2000] if error else None}
        if next_at is None:
            values["delivered_at"] = now
        else:
            values["available_at"] = next_at
        with self.engine.begin() as conn:
            scope_to_org(conn, msg.org_id)
            _write_outcomes(conn, msg, outcomes)
            return bool(conn.execute(OUTBOX.update().where(
                OUTBOX.c.org_id == msg.org_id, OUTBOX.c.id == msg.id, OUTBOX.c.lease_owner == owner,
                OUTBOX.c.delivered_at.is_(None)).values(**values)).rowcount)

    def release_then_claim(self, done: Release, org_id: str, *, lease: timedelta = LEASE,
                           settling: Mapping[str, datetime] | None = None,
                           prefetch: bool = False) -> tuple[bool, PendingMessage | None]:
        """`release` one message, then `claim` the next of `org_id` for the same owner: on PostgreSQL one round trip
        and one commit (each statement its own snapshot: the claim sees the release). Returns (released, claimed)."""
        if not self._pg:
            released = self.release(done.msg, owner=done.owner, next_at=done.next_at, error=done.error,
                                    outcomes=done.outcomes)
            return released, self.claim(org_id, owner=done.owner, lease=lease, settling=settling)
        now = datetime.now(UTC)
        msg = done.msg
        released_rows, claimed = pg.release_then_claim(self.engine, pg.release_params(
            org_id=msg.org_id, message_id=msg.id, owner=done.owner, attempts=msg.attempts + 1,
            error=done.error[:2000] if done.error else None, next_at=done.next_at, now=now, outcomes=done.outcomes),
            pg.claim_params(org_id=org_id, owner=done.owner, now=now, until=now + lease, coalesce=True,
                            topic=COALESCED_TOPIC, settling=settling or {}, prefetch=prefetch))
        return bool(released_rows), self._pending(org_id, claimed)

    # --- which orgs -----------------------------------------------------------------------------
    def due_orgs(self, limit: int = 100_000) -> list[str]:
        """Orgs with outbox messages due now, the one waiting longest first (never by id).

        On PostgreSQL through revenant_due_orgs_oldest (migration 0009_i15o), which shows the app role
        org ids and nothing else of other orgs' rows.
        """
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            if is_postgres(conn):
                return list(conn.execute(sa.text("SELECT org_id FROM revenant_due_orgs_oldest(:now, :n)"),
                                         {"now": now, "n": limit}).scalars())
            oldest = sa.func.min(OUTBOX.c.available_at)
            rows = conn.execute(sa.select(OUTBOX.c.org_id).where(
                OUTBOX.c.delivered_at.is_(None), OUTBOX.c.available_at <= now)
                .group_by(OUTBOX.c.org_id).order_by(oldest, OUTBOX.c.org_id).limit(limit))
            return [r.org_id for r in rows]

    def pending(self, org_id: str) -> int:
        """Messages of the org some subscriber still owes (dead and dropped deliveries do not count)."""
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            return int(conn.execute(sa.select(sa.func.count()).select_from(OUTBOX).where(
                OUTBOX.c.org_id == org_id, OUTBOX.c.delivered_at.is_(None))).scalar() or 0)

    # --- one handler, for callers that have a single consumer -------------------------------------
    def process(self, org_id: str, handler: Callable[[PendingMessage], None], *, limit: int = 50,
                owner: str = "process", policy: RetryPolicy | None = None) -> int:
        """Deliver up to `limit` due messages of one org to one handler, one claim at a time; returns how many.

        An exception schedules that message's retry with backoff (dead after the policy's cap).
        """
        policy = policy or RetryPolicy()
        delivered = 0
        for _ in range(limit):
            msg = self.claim(org_id, owner=owner, coalesce=False)
            if msg is None:
                break
            attempts = msg.deliveries.get(LEGACY_SUBSCRIBER, SubscriberState()).attempts + 1
            try:
                handler(msg)
            except Exception as exc:  # noqa: BLE001 — any failure means "retry later"
                next_at = policy.after_failure(attempts, datetime.now(UTC))
                self.release(msg, owner=owner, next_at=next_at, error=str(exc), outcomes=[Outcome(
                    LEGACY_SUBSCRIBER, "pending" if next_at else "dead", attempts, next_at,
                    f"{type(exc).__name__}: {exc}")])
                continue
            self.release(msg, owner=owner, next_at=None, outcomes=[Outcome(LEGACY_SUBSCRIBER, "delivered", attempts)])
            delivered += 1
        return delivered


def _write_outcomes(conn: Connection, msg: PendingMessage, outcomes: Sequence[Outcome]) -> None:
    now = datetime.now(UTC)
    insert = sqlite.insert(DELIVERIES)  # SQLite's path (PostgreSQL's: outbox_pg.py)
    for o in outcomes:
        values = {"state": o.state, "attempts": o.attempts, "available_at": o.available_at or now, "updated_at": now,
                  "last_error": o.error[:2000] if o.error else None}
        conn.execute(insert.values(org_id=msg.org_id, message_id=msg.id, subscriber=o.subscriber, **values)
                     .on_conflict_do_update(index_elements=["org_id", "message_id", "subscriber"], set_=values))


def _waits_for_deferred(org_id: str, now: datetime, *, unheld_only: bool = True) -> sa.ColumnElement[bool]:
    """An unheld refresh of an incident whose refresh is deferred (`defer`): left for that one to fold when it falls
    due (outbox_pg.CLAIM's rule; picking it would only defer it in turn). `unheld_only=False`: any refresh of such an
    incident (the settling deferral's test)."""
    waiting = OUTBOX.alias("waiting")
    deferred = sa.exists().where(
        waiting.c.org_id == org_id, waiting.c.topic == COALESCED_TOPIC, waiting.c.delivered_at.is_(None),
        waiting.c.lease_owner.is_(None), waiting.c.available_at > now,
        waiting.c.payload["incident_id"].as_string() == OUTBOX.c.payload["incident_id"].as_string(),
        ~sa.exists().where(DELIVERIES.c.org_id == org_id, DELIVERIES.c.message_id == waiting.c.id))
    held = [OUTBOX.c.lease_owner.is_(None)] if unheld_only else []
    return sa.and_(OUTBOX.c.topic == COALESCED_TOPIC, *held, deferred)


def _defer_settling(conn: Connection, org_id: str, now: datetime,
                    settling: Mapping[str, datetime]) -> dict[int, datetime]:
    """Defer the oldest due refresh of each settling incident that no subscriber has touched, unless the incident has
    a deferred refresh already, to the incident's time (as `defer` would, unheld): the others wait for it. Returns
    message id -> the time it is due again (outbox_pg.CLAIM's `deferring`)."""
    if not settling:
        return {}
    untouched = ~sa.exists().where(DELIVERIES.c.org_id == org_id, DELIVERIES.c.message_id == OUTBOX.c.id)
    found = conn.execute(sa.select(OUTBOX.c.id, OUTBOX.c.payload).where(
        OUTBOX.c.org_id == org_id, OUTBOX.c.delivered_at.is_(None), OUTBOX.c.available_at <= now,
        OUTBOX.c.topic == COALESCED_TOPIC, untouched,
        ~_waits_for_deferred(org_id, now, unheld_only=False)).order_by(OUTBOX.c.id)).all()
    firsts: dict[str, int] = {}
    for r in found:
        firsts.setdefault(str((r.payload or {}).get("incident_id")), r.id)
    deferring = {message_id: settling[incident] for incident, message_id in firsts.items() if incident in settling}
    for message_id, until in deferring.items():
        conn.execute(OUTBOX.update().where(OUTBOX.c.org_id == org_id, OUTBOX.c.id == message_id)
                     .values(available_at=until, lease_owner=None))
    return deferring


def _coalesce(conn: Connection, org_id: str, row: Any, now: datetime, keep: Sequence[int] = ()) -> int:
    """Mark other not-yet-started refreshes of the same incident delivered by this one (across processes).

    Only messages no subscriber has touched and no one holds (due now or deferred, `defer`): the claimed
    message's subscribers read the incident after this commit, so they show every change those messages announced.
    """
    incident = (row.payload or {}).get("incident_id")
    if incident is None:
        return 0
    started = sa.exists().where(DELIVERIES.c.org_id == org_id, DELIVERIES.c.message_id == OUTBOX.c.id)
    stmt = sa.select(OUTBOX.c.id).where(
        OUTBOX.c.org_id == org_id, OUTBOX.c.topic == COALESCED_TOPIC, OUTBOX.c.delivered_at.is_(None),
        OUTBOX.c.id != row.id, OUTBOX.c.lease_owner.is_(None),  # due now, or deferred to its window's end
        OUTBOX.c.payload["incident_id"].as_string() == str(incident), ~started, OUTBOX.c.id.not_in(list(keep)))
    ids = list(conn.execute(stmt).scalars())
    if ids:
        conn.execute(OUTBOX.update().where(OUTBOX.c.org_id == org_id, OUTBOX.c.id.in_(ids))
                     .values(delivered_at=now, last_error=f"coalesced into message {row.id}"))
    return len(ids)

