"""delivery_claims: one holder at a time across processes; a live holder is respected, a dead or lapsed one is
taken over; claims are per org and PostgreSQL's row-level security keeps other orgs' claims out of reach."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from bot.bootstrap import App
from incident_core.delivery import DeliveryBusy
from storage.delivery_steps import CLAIMS, HOST, SqlDeliveryClaims, holder_alive
from storage.engine import scope_to_org


def plant(app: App, org_id: str, key: str, holder: str, expires_in: float) -> None:
    """A claim row as another process would have left it."""
    with app.engine.begin() as conn:
        scope_to_org(conn, org_id)
        conn.execute(sa.insert(CLAIMS).values(org_id=org_id, key=key, holder=holder,
                                              expires_at=datetime.now(UTC) + timedelta(seconds=expires_in)))


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # reaped: the pid names no process now
    return child.pid


def test_a_held_claim_is_respected_and_free_again_once_released(app: App) -> None:
    org = app.directory.create_org("claims-a").id
    claims = SqlDeliveryClaims(app.engine, wait=0)
    with claims.claim(org, "room:slack:1") as first:
        assert first
        assert claims.holder(org, "room:slack:1") is not None
        with claims.claim(org, "room:slack:1") as second:
            assert not second  # the same process's other thread is a live holder too
        with claims.claim(org, "room:slack:2") as other:
            assert other  # claims are per key
    assert claims.holder(org, "room:slack:1") is None
    with claims.claim(org, "room:slack:1") as again:
        assert again


def test_a_waiting_claimant_gets_the_claim_when_the_holder_finishes(app: App) -> None:
    org = app.directory.create_org("claims-wait").id
    claims = SqlDeliveryClaims(app.engine, wait=10)
    released = threading.Event()
    got: list[bool] = []
    with claims.claim(org, "k") as held:
        assert held

        def waiter() -> None:
            with claims.claim(org, "k") as second:
                got.append(second and released.is_set())

        thread = threading.Thread(target=waiter)
        thread.start()
        released.set()
    thread.join(timeout=20)
    assert got == [True]


def test_a_claim_whose_process_is_gone_is_taken_over_at_once(app: App) -> None:
    org = app.directory.create_org("claims-dead").id
    holder = f"{HOST}:{dead_pid()}:0123456789ab"
    assert not holder_alive(holder)
    plant(app, org, "room:slack:9", holder, expires_in=600)
    with SqlDeliveryClaims(app.engine, wait=0).claim(org, "room:slack:9") as held:
        assert held


def test_a_live_holder_elsewhere_is_respected_until_its_lease_lapses(app: App) -> None:
    org = app.directory.create_org("claims-lapse").id
    plant(app, org, "live", "other-host:1:0123456789ab", expires_in=600)
    plant(app, org, "lapsed", "other-host:1:0123456789ab", expires_in=-1)
    claims = SqlDeliveryClaims(app.engine, wait=0)
    with claims.claim(org, "live") as held:
        assert not held
    with claims.claim(org, "lapsed") as held:
        assert held


def test_a_held_claim_is_renewed_while_its_holder_works(app: App) -> None:
    org = app.directory.create_org("claims-renew").id
    claims = SqlDeliveryClaims(app.engine, ttl=0.6, wait=0)
    with claims.claim(org, "slow") as held:
        assert held
        first = claims.holder(org, "slow")
        threading.Event().wait(1.5)  # more than two leases long: the renewer keeps it
        assert claims.holder(org, "slow") == first
        with claims.claim(org, "slow") as rival:
            assert not rival


def test_deliveries_refuse_a_busy_delivery_with_a_retryable_error(app: App) -> None:
    org = app.directory.create_org("claims-busy").id
    plant(app, org, "notice:slack:x", "other-host:1:0123456789ab", expires_in=600)
    deliveries = app.deliveries
    deliveries.claims.wait = 0
    with pytest.raises(DeliveryBusy, match="another process"):
        deliveries.once(org, "notice:slack:x", "a notice", lambda: {"ts": "1"})
    sent = deliveries.once(org, "notice:slack:y", "a notice", lambda: {"ts": "2"})
    assert deliveries.once(org, "notice:slack:y", "a notice", lambda: {"ts": "3"}) == sent == {"ts": "2"}


def test_row_level_security_guards_delivery_claims(pg_app: App) -> None:
    a = pg_app.directory.create_org("claims-rls-a")
    b = pg_app.directory.create_org("claims-rls-b")
    plant(pg_app, b.id, "room:slack:b", "other-host:1:0123456789ab", expires_in=600)
    with pg_app.engine.begin() as conn:
        scope_to_org(conn, a.id)
        assert conn.execute(sa.text("SELECT count(*) FROM delivery_claims")).scalar() == 0
        assert conn.execute(sa.text("DELETE FROM delivery_claims WHERE org_id = :b"), {"b": b.id}).rowcount == 0
    with SqlDeliveryClaims(pg_app.engine, wait=0).claim(a.id, "room:slack:b") as held:
        assert held  # the same key in another org is another delivery
    assert SqlDeliveryClaims(pg_app.engine).holder(b.id, "room:slack:b") == "other-host:1:0123456789ab"
