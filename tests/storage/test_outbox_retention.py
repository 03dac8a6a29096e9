"""Outbox retention (storage/outbox_retention.py) on SQLite and PostgreSQL: what is pruned and what is kept, one
org's prune never touching another's rows, the dry run's count, batches with a deliverer at work, and (PostgreSQL)
rows someone holds and two prunes at once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from bot.bootstrap import App
from bot.delivery import Deliverer
from incident_core import richtext as rt
from incident_core.insights_usecases import DIGEST_TOPIC, digest_key
from incident_core.reminders import DueReminder
from incident_core.rooms import ARCHIVE_TOPIC
from storage.delivery_tables import DELIVERIES
from storage.engine import scope_to_org
from storage.outbox import Outcome
from storage.outbox_admin import SqlOutboxAdmin
from storage.outbox_retention import KEPT_KEY_PREFIXES, KEPT_TOPICS, Pruned, SqlOutboxRetention, cutoff
from storage.unit_of_work import OUTBOX
from tests.helpers import new_org
from tests.storage.test_outbox_deliveries import TOPIC, Recorder, put

DAY = timedelta(days=1)


def deliver(app: App, org_id: str, key: str, *outcomes: Outcome, topic: str = TOPIC, ago: timedelta = 20 * DAY) -> int:
    """Write a message, claim it and release it with `outcomes` (delivered unless told), then date its delivery and
    its deliveries `ago` back; its id."""
    put(app, org_id, key, topic=topic)
    msg = app.outbox.claim(org_id, owner="retention-test", coalesce=False)
    assert msg is not None and msg.key == key
    assert app.outbox.release(msg, owner="retention-test", next_at=None,
                              outcomes=outcomes or (Outcome("Slack", "delivered", 1),))
    age(app, org_id, msg.id, ago)
    return msg.id


def age(app: App, org_id: str, message_id: int, ago: timedelta) -> None:
    """The message was delivered, and its deliveries last touched, `ago` back."""
    at = datetime.now(UTC) - ago
    with app.engine.begin() as conn:
        scope_to_org(conn, org_id)
        conn.execute(OUTBOX.update().where(OUTBOX.c.org_id == org_id, OUTBOX.c.id == message_id,
                                           OUTBOX.c.delivered_at.is_not(None)).values(delivered_at=at))
        conn.execute(DELIVERIES.update().where(DELIVERIES.c.org_id == org_id, DELIVERIES.c.message_id == message_id)
                     .values(updated_at=at))


def keys(app: App, org_id: str) -> set[str]:
    with app.engine.begin() as conn:
        scope_to_org(conn, org_id)
        return set(conn.execute(sa.select(OUTBOX.c.key).where(OUTBOX.c.org_id == org_id)).scalars())


def delivery_rows(app: App, org_id: str) -> set[int]:
    """Message ids with delivery records in the org."""
    with app.engine.begin() as conn:
        scope_to_org(conn, org_id)
        return set(conn.execute(sa.select(DELIVERIES.c.message_id).where(DELIVERIES.c.org_id == org_id)).scalars())


def test_old_delivered_messages_go_with_their_deliveries_and_everything_still_needed_stays(app: App) -> None:
    org = new_org(app).org.id
    gone = {deliver(app, org, f"old-{n}", Outcome("Slack", "delivered", 1), Outcome("Teams", "delivered", 2))
            for n in range(5)}
    gone.add(deliver(app, org, "old-coalesced", Outcome("Slack", "coalesced", 0)))
    gone.add(deliver(app, org, digest_key("slack", None, datetime(2026, 11, 2, 9, tzinfo=UTC)), topic=DIGEST_TOPIC))
    deliver(app, org, "recent", ago=2 * DAY)
    dead = deliver(app, org, "old-dead", Outcome("Slack", "delivered", 1), Outcome("Jira", "dead", 12, None, "boom"))
    deliver(app, org, "old-owed", Outcome("Jira", "pending", 3, datetime.now(UTC) + DAY))
    reminder = DueReminder("status_update", "INC-1", datetime(2026, 11, 1, 9, tzinfo=UTC), rt.doc(rt.para("x")))
    deliver(app, org, reminder.key, topic="notice")
    deliver(app, org, "archive:slack:INC-1", topic=ARCHIVE_TOPIC)
    put(app, org, "held")
    held = app.outbox.claim(org, owner="someone")  # a deliverer at work on it
    assert held is not None and held.key == "held"
    put(app, org, "undelivered")  # due: a deliverer will take it
    put(app, org, "deferred")
    with app.engine.begin() as conn:  # all three written 20 days ago; "deferred" due in an hour
        scope_to_org(conn, org)
        conn.execute(OUTBOX.update().where(OUTBOX.c.org_id == org, OUTBOX.c.delivered_at.is_(None))
                     .values(created_at=datetime.now(UTC) - 20 * DAY))
        conn.execute(OUTBOX.update().where(OUTBOX.c.org_id == org, OUTBOX.c.key == "deferred")
                     .values(available_at=datetime.now(UTC) + timedelta(hours=1)))
    kept = {"recent", "old-dead", "old-owed", reminder.key, "archive:slack:INC-1", "undelivered", "held", "deferred"}
    before = cutoff(14)

    retention = SqlOutboxRetention(app.engine, batch=2)
    assert retention.count(org, before=before) == Pruned(org, 7, 12, done=True)
    seen: list[Pruned] = []
    assert retention.prune_org(org, before=before, progress=seen.append) == Pruned(org, 7, 12, batches=4, done=True)
    assert [(p.messages, p.done) for p in seen] == [(2, False), (4, False), (6, False), (7, True)]
    assert keys(app, org) == kept and not gone & delivery_rows(app, org)
    assert retention.count(org, before=before) == Pruned(org, done=True)

    # a dead letter is needed until an operator acts; dropped today, it is kept as long as today's deliveries
    assert SqlOutboxAdmin(app.engine).drop(org) == 1
    assert retention.prune_org(org, before=before).messages == 0
    age(app, org, dead, 15 * DAY)
    assert retention.prune_org(org, before=before) == Pruned(org, 1, 2, batches=1, done=True)
    assert keys(app, org) == kept - {"old-dead"}


def test_the_kept_keys_are_the_ones_the_schedule_writes() -> None:
    """Reminders and room archives fire once because their key is unique: those rows are kept."""
    reminder = DueReminder("postmortem_due", "INC-9", datetime(2026, 12, 1, tzinfo=UTC), rt.doc(rt.para("x")))
    assert any(reminder.key.startswith(prefix) for prefix in KEPT_KEY_PREFIXES)
    assert ARCHIVE_TOPIC in KEPT_TOPICS
    with pytest.raises(ValueError, match="at least 1 day"):
        cutoff(0.5)


def test_a_stop_ends_a_prune_between_batches(app: App) -> None:
    org = new_org(app).org.id
    for n in range(6):
        deliver(app, org, f"old-{n}")
    retention = SqlOutboxRetention(app.engine, batch=2)
    seen: list[Pruned] = []
    assert retention.prune([org], before=cutoff(14), progress=seen.append, stopping=lambda: len(seen) == 1) == [
        Pruned(org, 2, 2, batches=1, done=False)]
    assert len(keys(app, org)) == 4


def test_pruning_one_org_never_touches_another(app: App) -> None:
    a, b = new_org(app).org.id, new_org(app).org.id
    for n in range(3):
        deliver(app, a, f"a-{n}")
        deliver(app, b, f"b-{n}")
    retention = SqlOutboxRetention(app.engine, batch=2)
    assert retention.count(b, before=cutoff(14)).messages == 3
    assert retention.prune([a], before=cutoff(14)) == [Pruned(a, 3, 3, batches=2, done=True)]
    assert keys(app, a) == set() and keys(app, b) == {"b-0", "b-1", "b-2"} and len(delivery_rows(app, b)) == 3
    assert retention.prune([a, b], before=cutoff(14), dry_run=True) == [Pruned(a, done=True),
                                                                        Pruned(b, 3, 3, done=True)]
    assert keys(app, b) == {"b-0", "b-1", "b-2"}  # a dry run deletes nothing


def test_a_deliverer_at_work_during_a_prune_loses_nothing(app: App) -> None:
    org = new_org(app).org.id
    for n in range(30):
        deliver(app, org, f"old-{n}")
    for n in range(30):
        put(app, org, f"new-{n}")
    rec = Recorder("Slack")
    deliverer = Deliverer(app.outbox, {TOPIC: rec.subs})
    retention = SqlOutboxRetention(app.engine, batch=3)
    pruned: list[Pruned] = []
    prune = threading.Thread(target=lambda: pruned.append(retention.prune_org(org, before=cutoff(14))))
    prune.start()
    while app.outbox.pending(org):
        deliverer.run_pass()
    prune.join()
    assert pruned[0].messages == 30 and pruned[0].done
    assert keys(app, org) == {f"new-{n}" for n in range(30)}  # every new message delivered, and kept
    assert sorted(k for (_name, o, k), n in rec.calls.items() if o == org and n == 1) == sorted(keys(app, org))
    assert app.outbox.pending(org) == 0


def test_a_prune_skips_rows_another_transaction_holds_and_two_prunes_split_the_rest(pg_app: App) -> None:
    org = new_org(pg_app).org.id
    held = deliver(pg_app, org, "held")
    for n in range(40):
        deliver(pg_app, org, f"old-{n}")
    retention = SqlOutboxRetention(pg_app.engine, batch=4)
    with pg_app.engine.connect() as holder:
        scope_to_org(holder, org)
        holder.execute(sa.select(OUTBOX.c.id).where(OUTBOX.c.org_id == org, OUTBOX.c.id == held).with_for_update())
        results: list[Pruned] = []
        errors: list[BaseException] = []

        def run() -> None:
            try:
                results.append(retention.prune_org(org, before=cutoff(14)))
            except BaseException as exc:  # noqa: BLE001 — reported below
                errors.append(exc)

        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()  # neither waits for the held row
        holder.rollback()
    assert not errors
    assert sum(r.messages for r in results) == 40 and sum(r.deliveries for r in results) == 40
    assert keys(pg_app, org) == {"held"}
    assert retention.prune_org(org, before=cutoff(14)).messages == 1
