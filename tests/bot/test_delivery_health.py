"""Delivery visibility over real HTTP: dead letters and lag in /metrics, /healthz degraded with the reason.

/healthz is the deployment's health, an operator's: it counts every org's dead deliveries. These tests assert it is
"ok" again, so they rely on no earlier test on the run's shared PostgreSQL database having left a dead delivery: the
guard (tests/outbox_guard.py, run after every test) drops those."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from bot.bootstrap import App
from bot.delivery import Deliverer
from bot.server import build_web_app
from incident_core.delivery_policy import RetryPolicy
from incident_core.ports import OutboxMessage
from storage.outbox import PendingMessage
from storage.outbox_admin import SqlOutboxAdmin
from storage.reminder_ledger import SqlReminderLedger
from tests.helpers import new_org


@pytest.fixture
async def base_url(app: App) -> AsyncIterator[str]:
    app.overrides["no_outbox_loop"] = True  # this test drives delivery itself
    runner = web.AppRunner(build_web_app(app))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_dead_deliveries_show_in_metrics_and_make_healthz_degraded_until_dropped(base_url: str,
                                                                                       app: App) -> None:
    w = new_org(app)
    assert SqlReminderLedger(app.engine).fire(w.org.id, OutboxMessage(topic="t.health", key="k", payload={}))

    def refused(_msg: PendingMessage) -> None:
        raise ConnectionRefusedError("connect ECONNREFUSED 127.0.0.1:9")

    refused.subscriber_name = "SlackRoomKeeper"  # type: ignore[attr-defined]
    Deliverer(app.outbox, {"t.health": [refused]}, policy=RetryPolicy(max_attempts=1),
              monitor=app.delivery_monitor).run_pass()
    app.delivery_monitor.refresh(force=True)
    async with aiohttp.ClientSession() as s:
        async with s.get(base_url + "/healthz") as r:
            body = await r.json()
            assert r.status == 200 and body["status"] == "degraded"
            assert any("dead deliveries" in reason and "revenant outbox" in reason for reason in body["reasons"])
        async with s.get(base_url + "/metrics") as r:
            text = await r.text()
        labels = f'org="{w.org.id}",subscriber="SlackRoomKeeper"'
        assert f'revenant_outbox_deliveries{{org="{w.org.id}",state="dead",subscriber="SlackRoomKeeper"}} 1.0' in text
        assert f"revenant_outbox_failed_attempts_total{{{labels}}} 1.0" in text
        assert f"revenant_outbox_dead_total{{{labels}}} 1.0" in text
        assert "revenant_outbox_lag_seconds" in text
        assert SqlOutboxAdmin(app.engine).drop(w.org.id) == 1
        app.delivery_monitor.refresh(force=True)
        async with s.get(base_url + "/healthz") as r:
            assert (await r.json()) == {"status": "ok"}


def test_healthz_reads_no_database(app: App) -> None:
    """health() answers from the last snapshot even when the database is gone."""
    app.delivery_monitor.refresh(force=True)
    app.engine.dispose()
    app.delivery_monitor.admin.engine = None  # any database use now raises
    assert app.delivery_monitor.health() == (True, [])
