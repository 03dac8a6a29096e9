"""Outbox retention: delete an org's delivered outbox messages, and their delivery records, once they are old.

What is deleted: a message delivered before the cutoff, held by no one (no lease), none of whose deliveries is still
owed (`pending`), dead-lettered and not yet acknowledged (`dead`: `revenant outbox retry|drop` needs it) or touched
since the cutoff (a delivery dropped yesterday is kept as long as a message delivered yesterday). Undelivered and
deferred messages have no `delivered_at`: never deleted.

What is kept, whatever its age: messages whose key the schedule may write again. A scheduled message fires once
because its key is unique per org (`ON CONFLICT DO NOTHING`, storage/reminder_ledger.py): a room's archive
(`archive:<platform>:<incident>`) is written again whenever the reminder tick looks at a closed incident, and a
reminder's slot (`reminder:<kind>:<incident>:<slot>`) may stay the latest slot for as long as the org's reminder
period (days, for stale drafts). Deleting their rows would post them twice. Digests are keyed by a slot fired only
within DIGEST_GRACE (one day) of it, so the one-day minimum retention covers them. Every other key names something
that happens once (an incident's version, a guidance batch, a publish target).

How: batches of BATCH messages, each one short transaction scoped to the org (its deliveries first, then the
messages: the foreign key's cascade then finds nothing, through the index of migration 0016_retention). On
PostgreSQL the batch's rows are taken with FOR UPDATE SKIP LOCKED, so two processes pruning at once split the work
and a prune never waits for a row someone else holds; the ingest path (inserts) and the deliverer (undelivered rows)
touch none of these rows. A batch resumes the org's walk where the last one ended (by delivery time), so rows that
are kept are not read again by every batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from incident_core.rooms import ARCHIVE_TOPIC
from storage.delivery_tables import DELIVERIES
from storage.engine import scope_to_org
from storage.unit_of_work import OUTBOX

BATCH = 500
MIN_DAYS = 1  # the shortest retention: a digest's slot fires within a day of it (insights_usecases.DIGEST_GRACE)
KEPT_TOPICS = (ARCHIVE_TOPIC,)
KEPT_KEY_PREFIXES = ("reminder:",)  # incident_core.reminders.DueReminder.key
STILL_OWED = ("pending", "dead")


@dataclass(frozen=True)
class Pruned:
    """What a prune deleted (or, in a dry run, would delete) of one org so far."""

    org_id: str
    messages: int = 0
    deliveries: int = 0
    batches: int = 0
    done: bool = False  # False while batches are still to come (progress), or when stopped early


def cutoff(days: float, now: datetime | None = None) -> datetime:
    """The delivery time before which messages are old enough to go (at least MIN_DAYS ago)."""
    if days < MIN_DAYS:
        raise ValueError(f"outbox retention must be at least {MIN_DAYS} day(s), not {days}")
    return (now or datetime.now(UTC)) - timedelta(days=days)


def _prunable(org_id: str, before: datetime) -> list[sa.ColumnElement[bool]]:
    """The org's messages old enough to go that nothing still needs (see the module's docstring)."""
    needed = sa.exists().where(DELIVERIES.c.org_id == org_id, DELIVERIES.c.message_id == OUTBOX.c.id,
                               sa.or_(DELIVERIES.c.state.in_(STILL_OWED), DELIVERIES.c.updated_at >= before))
    return [OUTBOX.c.org_id == org_id, OUTBOX.c.delivered_at < before, OUTBOX.c.lease_owner.is_(None),
            OUTBOX.c.topic.not_in(KEPT_TOPICS), *[~OUTBOX.c.key.startswith(p, autoescape=True)
                                                  for p in KEPT_KEY_PREFIXES], ~needed]


class SqlOutboxRetention:
    """Prunes delivered outbox messages per org, in bounded batches (`batch` messages per transaction)."""

    def __init__(self, engine: Engine, *, batch: int = BATCH) -> None:
        self.engine = engine
        self.batch = batch

    def count(self, org_id: str, *, before: datetime) -> Pruned:
        """What `prune_org` would delete now (a dry run): messages and their delivery records. Takes no locks."""
        found = sa.select(OUTBOX.c.id).where(*_prunable(org_id, before)).subquery()
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            messages = int(conn.execute(sa.select(sa.func.count()).select_from(found)).scalar() or 0)
            deliveries = int(conn.execute(sa.select(sa.func.count()).select_from(DELIVERIES).where(
                DELIVERIES.c.org_id == org_id, DELIVERIES.c.message_id.in_(sa.select(found.c.id)))).scalar() or 0)
        return Pruned(org_id, messages, deliveries, done=True)

    def prune_org(self, org_id: str, *, before: datetime, progress: Callable[[Pruned], None] | None = None,
                  stopping: Callable[[], bool] = lambda: False) -> Pruned:
        """Delete the org's prunable messages and their deliveries, a batch per transaction, until none is left
        (or `stopping()` says so between batches). `progress` hears the running totals after each batch."""
        total = Pruned(org_id)
        after: datetime | None = None
        while not stopping():
            messages, deliveries, after = self._batch(org_id, before, after)
            total = Pruned(org_id, total.messages + messages, total.deliveries + deliveries, total.batches + 1,
                           done=messages < self.batch)
            if progress is not None and messages:
                progress(total)
            if total.done:
                return total
        return total

    def prune(self, org_ids: Iterable[str], *, before: datetime, dry_run: bool = False,
              progress: Callable[[Pruned], None] | None = None,
              stopping: Callable[[], bool] = lambda: False) -> list[Pruned]:
        """`prune_org` (or `count`, for a dry run) for each org in turn; every org's totals, in order."""
        out: list[Pruned] = []
        for org_id in org_ids:
            if stopping():
                break
            out.append(self.count(org_id, before=before) if dry_run
                       else self.prune_org(org_id, before=before, progress=progress, stopping=stopping))
        return out

    def _batch(self, org_id: str, before: datetime, after: datetime | None) -> tuple[int, int, datetime | None]:
        """One transaction: up to `batch` prunable messages from `after` on (by delivery time), their deliveries
        deleted first. Returns (messages, deliveries, where the next batch starts)."""
        pick = sa.select(OUTBOX.c.id, OUTBOX.c.delivered_at).where(*_prunable(org_id, before))
        if after is not None:  # >=: messages delivered at the same instant (a fold) may straddle two batches
            pick = pick.where(OUTBOX.c.delivered_at >= after)
        pick = (pick.order_by(OUTBOX.c.delivered_at, OUTBOX.c.id).limit(self.batch)
                .with_for_update(of=OUTBOX, skip_locked=True))
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            rows: Sequence[sa.Row[tuple[int, datetime]]] = conn.execute(pick).all()
            if not rows:
                return 0, 0, after
            ids = [r.id for r in rows]
            deliveries = conn.execute(DELIVERIES.delete().where(
                DELIVERIES.c.org_id == org_id, DELIVERIES.c.message_id.in_(ids))).rowcount or 0
            messages = conn.execute(OUTBOX.delete().where(OUTBOX.c.org_id == org_id, OUTBOX.c.id.in_(ids))).rowcount
        return int(messages or 0), int(deliveries), rows[-1].delivered_at
