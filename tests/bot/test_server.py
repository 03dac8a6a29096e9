"""The aiohttp server over real HTTP on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from bot.bootstrap import App
from bot.server import build_web_app


@pytest.fixture
async def base_url(app: App) -> AsyncIterator[str]:
    runner = web.AppRunner(build_web_app(app))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_healthz_reports_database(base_url: str, app: App) -> None:
    async with aiohttp.ClientSession() as s, s.get(base_url + "/healthz") as r:
        assert r.status == 200
        assert (await r.json()) == {"status": "ok", "database": app.engine.dialect.name}


async def test_metrics_is_prometheus_text(base_url: str) -> None:
    async with aiohttp.ClientSession() as s, s.get(base_url + "/metrics") as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain")
        assert "revenant_signals_received_total" in await r.text()
