"""Outbox messages a test leaves undelivered in the run's shared PostgreSQL database.

Every test on PostgreSQL shares one database per run (and per xdist worker). A message a test's app did not
deliver before the test ended (a web-only app, a server process killed mid-storm) stays due, and the next test
whose deliverer asks for due orgs (`revenant_due_orgs_oldest`, across orgs) claims it: a delivery to an emulator
that is gone, in the middle of someone else's test. Tests retire what they leave (`retire_left`, in their
fixture's teardown); the guard in tests/conftest.py fails a test that leaves any, and retires them itself so one
failure does not spread. Dead deliveries count as left too: /healthz and the delivery gauges count them across orgs
(an operator's view of the deployment, on purpose), so a dead letter one test made degraded the next test's
/healthz (tests/bot/test_delivery_health.py after tests/storage/test_outbox_claim.py on one xdist worker).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

RETIRED = "left undelivered by a test: retired at its end (tests/outbox_guard.py)"


def last_outbox_id(engine: sa.Engine) -> int:
    """The newest outbox message id (0 when none): what a test's own messages come after."""
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT coalesce(max(id), 0) FROM outbox")).scalar() or 0)


def left_since(engine: sa.Engine, after_id: int) -> list[tuple[str, int]]:
    """(topic, count) of the messages after `after_id` no subscriber has finished (due now or later), and
    ("dead: <subscriber>", count) of their dead deliveries no one retried or dropped."""
    with engine.connect() as conn:
        return [(str(t), int(n)) for t, n in conn.execute(sa.text(
            "SELECT topic, count(*) FROM outbox WHERE id > :after AND delivered_at IS NULL GROUP BY topic "
            "UNION ALL SELECT 'dead: ' || subscriber, count(*) FROM outbox_deliveries "
            "WHERE message_id > :after AND state = 'dead' GROUP BY subscriber ORDER BY 1"), {"after": after_id})]


def retire_left(engine: sa.Engine, after_id: int) -> int:
    """Mark the messages after `after_id` that are still undelivered as delivered, so no later test's deliverer
    claims them, and drop their dead deliveries (an operator's `revenant outbox drop`), so no later test's /healthz
    or delivery gauges count them; returns how many rows changed. `engine` connects as the database's owner
    (row-level security would hide other orgs' rows from the app role)."""
    with engine.begin() as conn:
        dropped = conn.execute(sa.text(
            "UPDATE outbox_deliveries SET state = 'dropped', last_error = :why "
            "WHERE message_id > :after AND state = 'dead'"), {"after": after_id, "why": RETIRED}).rowcount or 0
        return int(dropped) + int(conn.execute(sa.text(
            "UPDATE outbox SET delivered_at = now(), lease_owner = NULL, last_error = :why "
            "WHERE id > :after AND delivered_at IS NULL"), {"after": after_id, "why": RETIRED}).rowcount or 0)


def owner_engine(url: str) -> sa.Engine:
    """An engine on the test database as its owner, holding no connection between uses."""
    return sa.create_engine(url, poolclass=sa.pool.NullPool)


@contextmanager
def retiring(url: str) -> Iterator[None]:
    """Around a test's app on `url`: the messages it leaves undelivered are retired at the end (nothing on
    SQLite, whose database is the test's own)."""
    if url.startswith("sqlite"):
        yield
        return
    owner = owner_engine(url)
    try:
        start = last_outbox_id(owner)
        yield
        retire_left(owner, start)
    finally:
        owner.dispose()
