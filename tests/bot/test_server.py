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


async def test_healthz_is_liveness_and_readyz_asks_the_database_and_the_knowledge_store(base_url: str,
                                                                                       app: App) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.get(base_url + "/healthz") as r:
            assert r.status == 200 and (await r.json()) == {"status": "ok"}
        for _ in range(60):  # the first probe loads the knowledge stack (seconds of imports)
            async with s.get(base_url + "/readyz") as r:
                body = await r.json()
                if r.status == 200:
                    break
                assert r.status == 503 and r.headers["Retry-After"] and body["status"] == "not ready"
        assert r.status == 200, body
        assert body == {"status": "ready", "database": app.engine.dialect.name, "knowledge": "embedded chroma",
                        "guidance": "ok"}


async def test_metrics_is_prometheus_text(base_url: str) -> None:
    async with aiohttp.ClientSession() as s, s.get(base_url + "/metrics") as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain")
        assert "revenant_signals_received_total" in await r.text()


async def test_a_guidance_failure_shows_in_metrics_and_readyz_until_guidance_works_again(
        base_url: str, app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.worker import collaborators
    from incident_core.services.guidance import GuidanceOfferer
    from storage.outbox import PendingMessage

    c = collaborators(app)
    offerer = GuidanceOfferer(deps=c.deps, queries=c.queries, source=c.guidance, index=c.knowledge,
                              feedback=c.feedback, health=c.health)
    msg = PendingMessage(id=1, org_id="org-x", topic="incident.changed", key="k", payload={"incident_id": "INC-1"},
                         attempts=0)

    def broken(_msg: PendingMessage) -> None:
        raise RuntimeError("Error creating hnsw segment reader: Nothing found on disk")

    monkeypatch.setattr(offerer, "_offer", broken)
    offerer(msg)  # logged and swallowed, as before: the outbox message still counts as delivered
    async with aiohttp.ClientSession() as s:
        async with s.get(base_url + "/metrics") as r:
            assert 'revenant_guidance_failures_total{error="RuntimeError"} 1.0' in await r.text()
        async with s.get(base_url + "/readyz") as r:
            body = await r.json()
            assert r.status == 503 and body["guidance"] == "failing" and "Nothing found on disk" in body["last_error"]
        monkeypatch.setattr(offerer, "_offer", lambda _msg: None)
        offerer(msg)
        for _ in range(60):  # the first probe may still be loading the knowledge stack
            async with s.get(base_url + "/readyz") as r:
                body = await r.json()
                if r.status == 200:
                    break
        assert r.status == 200 and body["guidance"] == "ok", body
        async with s.get(base_url + "/metrics") as r:
            assert "revenant_guidance_failing 0.0" in await r.text()
