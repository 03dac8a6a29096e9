"""Acknowledged chat requests that wait or fail are visible in /metrics and on /healthz (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry, generate_latest

from bot.acked_loop import AckedLoop
from bot.acked_monitor import AckedMonitor
from bot.bootstrap import App
from storage.acked_work import ACKED, MAX_ATTEMPTS, AckedItem, AckedWork, Arrival
from tests.conftest import make_app


@pytest.fixture
def store_app(db_url: str, tmp_path: Path) -> Iterator[App]:
    built = make_app(db_url, tmp_path)
    yield built
    built.close()


def sample(registry: CollectorRegistry, name: str, platform: str) -> float | None:
    value = registry.get_sample_value(name, {"platform": platform})
    return value


def test_waiting_requests_show_per_platform_and_degrade_health_past_the_threshold(store_app: App) -> None:
    platform = "p-" + uuid.uuid4().hex[:6]
    store = AckedWork(store_app.engine)
    store.record([Arrival(key=f"sig-{uuid.uuid4().hex}", platform=platform, body=f"b{i}") for i in range(3)])
    registry = CollectorRegistry()
    monitor = AckedMonitor(registry, store, wait_threshold=3600.0, refresh_seconds=0.0)
    assert sample(registry, "revenant_acked_waiting", platform) is None  # nothing read yet: no database
    monitor.refresh()
    assert sample(registry, "revenant_acked_waiting", platform) == 3
    age = sample(registry, "revenant_acked_oldest_waiting_seconds", platform)
    assert age is not None and 0 <= age < 3600
    assert f'revenant_acked_waiting{{platform="{platform}"}} 3.0' in generate_latest(registry).decode()
    assert monitor.health() == (True, [])
    monitor.wait_threshold = -1.0  # every waiting request is now "too old"
    healthy, reasons = monitor.health()
    assert not healthy and "acknowledged chat request has waited" in reasons[0] and "worker" in reasons[0]
    for item in store.claim(10, [platform]):
        store.finish(item.id)
    monitor.refresh()
    assert sample(registry, "revenant_acked_waiting", platform) is None


async def test_failed_attempts_and_given_up_requests_are_counted(store_app: App) -> None:
    platform = "p-" + uuid.uuid4().hex[:6]
    store = AckedWork(store_app.engine)
    ids = store.record([Arrival(key=f"sig-{uuid.uuid4().hex}", platform=platform, body=f"b{i}") for i in range(2)])
    with store_app.engine.begin() as conn:  # the second has used all but its last attempt already
        conn.execute(sa.update(ACKED).where(ACKED.c.id == ids[1]).values(attempts=MAX_ATTEMPTS - 1))
    registry = CollectorRegistry()
    monitor = AckedMonitor(registry, store, refresh_seconds=0.0)

    async def broken(_item: AckedItem) -> None:
        raise ConnectionRefusedError("slack.com refused the connection")

    loop = AckedLoop(store, {platform: broken}, monitor=monitor)
    assert await loop.run_until_idle() == 2
    assert sample(registry, "revenant_acked_failed_attempts_total", platform) == 2
    assert sample(registry, "revenant_acked_given_up_total", platform) == 1
    monitor.refresh()
    assert sample(registry, "revenant_acked_waiting", platform) == 1  # the first backs off and comes back
