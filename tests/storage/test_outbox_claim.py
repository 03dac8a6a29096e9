"""SqlOutbox's claim, record and release, statement by statement (one round trip each on PostgreSQL,
storage/outbox_pg.py; SQLAlchemy's statements on SQLite): what a claim folds and what it never folds, the
subscribers' states it hands back, a lost lease, another org's rows, and SKIP LOCKED (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from bot.bootstrap import App
from storage.engine import scope_to_org
from storage.outbox import COALESCED_TOPIC, Outcome, PendingMessage
from storage.records import utc
from storage.unit_of_work import OUTBOX
from tests.helpers import new_org
from tests.storage.test_outbox_deliveries import deliveries, put


def refresh(app: App, org_id: str, incident: str, n: int) -> None:
    put(app, org_id, f"changed:{incident}:{n}", topic=COALESCED_TOPIC, incident_id=incident)


def rows(app: App, org_id: str) -> dict[str, tuple[bool, str | None]]:
    """key -> (delivered, last_error) of the org's messages."""
    with app.engine.begin() as conn:
        scope_to_org(conn, org_id)
        found = conn.execute(sa.select(OUTBOX.c.key, OUTBOX.c.delivered_at, OUTBOX.c.last_error)
                             .where(OUTBOX.c.org_id == org_id)).all()
    return {r.key: (r.delivered_at is not None, r.last_error) for r in found}


@pytest.fixture(autouse=True)
def leave_nothing_due() -> Iterator[None]:
    """The PostgreSQL database is shared with other tests, whose deliverers serve every due org: mark what these
    tests leave behind delivered, so no other test's subscriber is called with it."""
    yield
    for app, org_id in _orgs:
        with app.engine.begin() as conn:
            scope_to_org(conn, org_id)
            conn.execute(OUTBOX.update().where(OUTBOX.c.org_id == org_id, OUTBOX.c.delivered_at.is_(None))
                         .values(delivered_at=datetime.now(UTC), lease_owner=None))
    _orgs.clear()


_orgs: list[tuple[App, str]] = []


def org_of(app: App) -> str:
    org_id = new_org(app).org.id
    _orgs.append((app, org_id))
    return org_id


def test_a_claim_folds_only_its_incidents_untouched_unheld_refreshes(app: App) -> None:
    org, other_org = org_of(app), org_of(app)
    for n in range(3):
        refresh(app, org, "INC", n)
    refresh(app, org, "ELSE", 0)
    put(app, org, "note")  # another topic
    refresh(app, other_org, "INC", 0)  # the same incident id in another org
    started = app.outbox.claim(org, owner="p1", coalesce=False)  # INC:0, held by p1: not folded by anyone
    assert started is not None and started.key == "changed:INC:0" and started.coalesced == 0
    past = datetime.now(UTC) - timedelta(seconds=1)
    app.outbox.record(started, [Outcome("keeper", "delivered", 1), Outcome("drafter", "pending", 1, past, "x")])
    assert app.outbox.release(started, owner="p1", next_at=past)
    msg = app.outbox.claim(org, owner="p2")  # INC:0 again: its keeper rendered an older state, so it folds nothing
    assert msg is not None and msg.key == "changed:INC:0" and msg.coalesced == 0
    assert msg.deliveries["keeper"].state == "delivered" and msg.deliveries["drafter"].attempts == 1
    assert msg.deliveries["drafter"].available_at is not None and abs(msg.deliveries["drafter"].available_at - past) < \
        timedelta(milliseconds=1)
    assert app.outbox.release(msg, owner="p2", next_at=None, outcomes=[Outcome("drafter", "delivered", 2)])
    first = app.outbox.claim(org, owner="p2")  # INC:1 folds INC:2, nothing else
    assert first is not None and first.key == "changed:INC:1" and first.coalesced == 1 and first.deliveries == {}
    state = rows(app, org)
    assert state["changed:INC:2"] == (True, f"coalesced into message {first.id}")
    assert not state["changed:ELSE:0"][0] and not state["note"][0]
    assert not rows(app, other_org)["changed:INC:0"][0]
    assert app.outbox.pending(other_org) == 1


def test_a_lost_lease_is_reported_and_the_outcomes_are_written_anyway(app: App) -> None:
    org = org_of(app)
    put(app, org, "k")
    msg = app.outbox.claim(org, owner="p1", lease=timedelta(seconds=-1))  # lapses at once
    assert msg is not None
    again = app.outbox.claim(org, owner="p2")
    assert again is not None and again.id == msg.id
    assert not app.outbox.release(msg, owner="p1", next_at=None, outcomes=[Outcome("a", "delivered", 1)])
    assert deliveries(app, org)["a"][0] == "delivered" and app.outbox.pending(org) == 1  # p2 still holds it
    assert app.outbox.release(again, owner="p2", next_at=None, error="x" * 3000,
                              outcomes=[Outcome("b", "dead", 12, None, "boom")])
    assert deliveries(app, org)["b"] == ("dead", 12, "boom") and app.outbox.pending(org) == 0


def test_a_release_with_a_next_time_brings_the_message_back_then(app: App) -> None:
    org = org_of(app)
    put(app, org, "k")
    msg = app.outbox.claim(org, owner="p1")
    assert msg is not None
    later = datetime.now(UTC) + timedelta(hours=1)
    assert app.outbox.release(msg, owner="p1", next_at=later, error="slack: 500",
                              outcomes=[Outcome("slack", "pending", 1, later, "500")])
    assert app.outbox.claim(org, owner="p1") is None and app.outbox.pending(org) == 1
    with app.engine.begin() as conn:
        scope_to_org(conn, org)
        row = conn.execute(sa.select(OUTBOX).where(OUTBOX.c.org_id == org)).one()
    assert row.attempts == 1 and row.last_error == "slack: 500" and row.lease_owner is None


def test_a_claim_skips_rows_another_transaction_holds_instead_of_waiting(pg_app: App) -> None:
    org = org_of(pg_app)
    for n in range(3):
        refresh(pg_app, org, "INC", n)
    held = pg_app.engine.connect()
    try:
        tx = held.begin()
        scope_to_org(held, org)
        ids = list(held.execute(sa.select(OUTBOX.c.id).where(OUTBOX.c.org_id == org).order_by(OUTBOX.c.id)).scalars())
        held.execute(sa.select(OUTBOX.c.id).where(OUTBOX.c.org_id == org, OUTBOX.c.id.in_([ids[0], ids[2]]))
                     .with_for_update())  # another process is claiming INC:0, and folding INC:2
        got: list[PendingMessage | None] = []
        t = threading.Thread(target=lambda: got.append(pg_app.outbox.claim(org, owner="p1")), daemon=True)
        t.start()
        t.join(20)
        assert not t.is_alive(), "the claim waited for a locked row"
        msg = got[0]
        assert msg is not None and msg.id == ids[1] and msg.coalesced == 0  # INC:2 locked: skipped, not folded
        tx.rollback()
    finally:
        held.close()
    assert not rows(pg_app, org)["changed:INC:2"][0]


def test_refreshes_of_an_incident_whose_refresh_is_deferred_wait_for_it_and_fold_into_it(app: App) -> None:
    org = org_of(app)
    refresh(app, org, "INC", 0)
    first = app.outbox.claim(org, owner="p1")
    assert first is not None and first.key == "changed:INC:0"
    due = datetime.now(UTC) + timedelta(seconds=0.5)
    assert app.outbox.defer(first, owner="p1", until=due)  # the incident was rendered moments ago: it settles
    for n in (1, 2, 3):
        refresh(app, org, "INC", n)
    refresh(app, org, "ELSE", 0)
    other = app.outbox.claim(org, owner="p1")  # INC:1..3 wait for the deferred refresh; ELSE goes
    assert other is not None and other.key == "changed:ELSE:0"
    assert app.outbox.release(other, owner="p1", next_at=None)
    assert app.outbox.claim(org, owner="p1") is None  # nothing due but the settling incident's refreshes
    single = app.outbox.claim(org, owner="p2", coalesce=False)  # a consumer that does not coalesce takes them
    assert single is not None and single.key == "changed:INC:1"
    retried = datetime.now(UTC) - timedelta(seconds=1)  # a refresh a subscriber started cannot be folded ...
    assert app.outbox.release(single, owner="p2", next_at=retried,
                              outcomes=[Outcome("keeper", "delivered", 1), Outcome("drafter", "pending", 1, retried, "x")])
    assert app.outbox.claim(org, owner="p1") is None  # ... yet it waits for the deferred refresh too
    time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 0.05)
    settled = app.outbox.claim(org, owner="p1")  # due: the deferred refresh folds what waited for it
    assert settled is not None and settled.id == first.id and settled.coalesced == 2
    assert app.outbox.release(settled, owner="p1", next_at=None)
    again = app.outbox.claim(org, owner="p1")  # then the started one goes, with its subscribers' states
    assert again is not None and again.id == single.id and again.coalesced == 0
    assert again.deliveries["keeper"].state == "delivered" and again.deliveries["drafter"].state == "pending"
    assert app.outbox.release(again, owner="p1", next_at=None, outcomes=[Outcome("drafter", "delivered", 2)])
    state = rows(app, org)
    assert state["changed:INC:2"] == (True, f"coalesced into message {first.id}")
    assert state["changed:INC:3"] == (True, f"coalesced into message {first.id}")
    assert app.outbox.pending(org) == 0


def test_a_claim_defers_a_settling_incidents_fresh_refresh_and_claims_the_next_message(app: App) -> None:
    org = org_of(app)
    refresh(app, org, "INC", 0)
    refresh(app, org, "INC", 1)
    put(app, org, "note")
    refresh(app, org, "ELSE", 0)
    due = datetime.now(UTC) + timedelta(seconds=30)
    msg = app.outbox.claim(org, owner="p1", settling={"INC": due, "GONE": due})
    assert msg is not None and msg.key == "note" and msg.deferred_until is None  # leased: INC's oldest was deferred
    assert msg.deferred_due is not None and abs(msg.deferred_due - due) < timedelta(milliseconds=1)
    with app.engine.begin() as conn:
        scope_to_org(conn, org)
        found = {r.key: r for r in conn.execute(sa.select(OUTBOX).where(OUTBOX.c.org_id == org))}
    deferred, waiting = found["changed:INC:0"], found["changed:INC:1"]
    assert deferred.lease_owner is None and deferred.delivered_at is None  # not leased: due when the window ends
    assert abs(utc(deferred.available_at) - due) < timedelta(milliseconds=1)
    assert waiting.lease_owner is None and utc(waiting.available_at) < due  # untouched: it waits, to be folded
    assert found["note"].lease_owner == "p1"
    assert app.outbox.release(msg, owner="p1", next_at=None)
    other = app.outbox.claim(org, owner="p1", settling={"INC": due})
    assert other is not None and other.key == "changed:ELSE:0" and other.deferred_due is None  # nothing to defer
    assert app.outbox.claim(org, owner="p1") is None and app.outbox.pending(org) == 3


def test_with_only_settling_refreshes_due_the_oldest_deferred_one_is_returned_unleased(app: App) -> None:
    org = org_of(app)
    refresh(app, org, "INC", 0)
    refresh(app, org, "ELSE", 0)
    refresh(app, org, "INC", 1)
    soon, later = datetime.now(UTC) + timedelta(seconds=20), datetime.now(UTC) + timedelta(seconds=30)
    msg = app.outbox.claim(org, owner="p1", settling={"INC": later, "ELSE": soon})
    assert msg is not None and msg.key == "changed:INC:0" and msg.coalesced == 0 and msg.prefetched is None
    assert msg.deferred_until is not None and abs(msg.deferred_until - later) < timedelta(milliseconds=1)
    assert msg.deferred_due is not None and abs(msg.deferred_due - soon) < timedelta(milliseconds=1)  # the earliest
    assert app.outbox.claim(org, owner="p1") is None and app.outbox.pending(org) == 3


def test_a_started_refresh_of_an_incident_deferred_by_the_same_claim_waits(app: App) -> None:
    org = org_of(app)
    refresh(app, org, "INC", 0)
    started = app.outbox.claim(org, owner="p1", coalesce=False)
    assert started is not None
    past = datetime.now(UTC) - timedelta(seconds=1)
    assert app.outbox.release(started, owner="p1", next_at=past,
                              outcomes=[Outcome("keeper", "delivered", 1), Outcome("drafter", "pending", 1, past, "x")])
    refresh(app, org, "INC", 1)
    due = datetime.now(UTC) + timedelta(seconds=30)
    msg = app.outbox.claim(org, owner="p1", settling={"INC": due})
    assert msg is not None and msg.key == "changed:INC:1" and msg.deferred_until is not None  # deferred, and ...
    assert app.outbox.claim(org, owner="p1") is None  # ... the started one waits for it, as for any deferred one


def test_a_release_and_the_next_claim_go_together_across_orgs(app: App) -> None:
    from storage.outbox import Release

    org, other = org_of(app), org_of(app)
    put(app, org, "a")
    put(app, org, "b")
    put(app, other, "c")
    a = app.outbox.claim(org, owner="p1")
    assert a is not None and a.key == "a"
    released, b = app.outbox.release_then_claim(Release(a, "p1", None, None, [Outcome("s", "delivered", 1)]), org)
    assert released and b is not None and b.key == "b"  # the claim saw the release: "a" is not due again
    assert deliveries(app, org)["s"] == ("delivered", 1, None)
    lost = Release(b, "p2", None)  # p2 never held "b": the release is refused, the claim (for p2) still goes
    released, c = app.outbox.release_then_claim(lost, other)
    assert not released and c is not None and c.key == "c" and c.org_id == other
    assert app.outbox.pending(org) == 1 and app.outbox.pending(other) == 1
    released, nothing = app.outbox.release_then_claim(Release(c, "p2", None), other)
    assert released and nothing is None and app.outbox.pending(other) == 0
