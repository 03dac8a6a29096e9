"""The shared PostgreSQL database's outbox guard (tests/outbox_guard.py) sees and retires what a test leaves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from bot.bootstrap import App
from storage.outbox import Outcome, SqlOutbox
from storage.outbox_admin import SqlOutboxAdmin
from tests.outbox_guard import RETIRED, last_outbox_id, left_since, owner_engine, retire_left


def test_a_left_message_is_seen_then_retired_so_no_deliverer_claims_it(pg_app: App, postgres_url: str) -> None:
    owner = owner_engine(postgres_url)
    try:
        start = last_outbox_id(owner)
        org = pg_app.directory.create_org("guard-left")
        now = datetime.now(UTC)
        with owner.begin() as conn:
            for n, available in enumerate((now - timedelta(seconds=1), now + timedelta(hours=1))):
                conn.execute(sa.text(
                    "INSERT INTO outbox (org_id, topic, key, payload, created_at, available_at, attempts) "
                    "VALUES (:org, 'incident.changed', :key, '{}', :now, :at, 0)"),
                    {"org": org.id, "key": f"guard-{n}", "now": now, "at": available})
        assert left_since(owner, start) == [("incident.changed", 2)]  # due now, and due later
        assert SqlOutbox(pg_app.engine).claim(org.id, owner="guard-test") is not None  # a deliverer would take it
        assert retire_left(owner, start) == 2
        assert left_since(owner, start) == []
        assert SqlOutbox(pg_app.engine).claim(org.id, owner="guard-test") is None
        with owner.connect() as conn:
            errors = set(conn.execute(sa.text("SELECT last_error FROM outbox WHERE org_id = :org"),
                                      {"org": org.id}).scalars())
        assert errors == {RETIRED}
    finally:
        owner.dispose()


def test_a_left_dead_delivery_is_seen_then_dropped_so_no_later_healthz_counts_it(pg_app: App, postgres_url: str) -> None:
    """/healthz counts dead deliveries across orgs (an operator's view): one a test leaves must not outlive it."""
    owner = owner_engine(postgres_url)
    try:
        start = last_outbox_id(owner)
        org = pg_app.directory.create_org("guard-dead")
        outbox = SqlOutbox(pg_app.engine)
        with owner.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO outbox (org_id, topic, key, payload, created_at, available_at, attempts) "
                "VALUES (:org, 'incident.changed', 'guard-dead', '{}', now(), now(), 0)"), {"org": org.id})
        msg = outbox.claim(org.id, owner="guard-test")
        assert msg is not None
        assert outbox.release(msg, owner="guard-test", next_at=None, outcomes=[Outcome("Jira", "dead", 12, None, "x")])
        assert left_since(owner, start) == [("dead: Jira", 1)]  # delivered, but dead-lettered
        dead = [c for c in SqlOutboxAdmin(pg_app.engine).counts() if c.org_id == org.id and c.state == "dead"]
        assert [c.count for c in dead] == [1]
        assert retire_left(owner, start) == 1
        assert left_since(owner, start) == []
        assert not [c for c in SqlOutboxAdmin(pg_app.engine).counts() if c.org_id == org.id]
    finally:
        owner.dispose()
