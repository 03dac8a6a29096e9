"""GET /readyz: the database and the knowledge store answer, each within a bound, on threads of their own,
and guidance is not failing (bot/knowledge_health.py).

Liveness (/healthz) never touches either. Readiness probes run on a two-thread pool that nothing else
uses, so a burst of signals or a stuck database cannot delay the answer; a probe still waiting from an
earlier request is awaited again rather than started twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiohttp import web

from bot.bootstrap import App
from storage.health import ping


class Readiness:
    """Bounded checks of the database and the knowledge store."""

    def __init__(self, app: App, *, timeout: float) -> None:
        self.app, self.timeout = app, timeout
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="revenant-ready")
        self._pending: dict[str, asyncio.Future[Any]] = {}

    async def handle(self, _request: web.Request) -> web.Response:
        """200 when both answer, else 503 with Retry-After and what did not answer."""
        database, knowledge = await asyncio.gather(self._probe("database", lambda: ping(self.app.engine)),
                                                   self._probe("knowledge", self._knowledge))
        guidance_ok, guidance = self.app.knowledge_health.status()  # not failing since its last failure
        ready = database[0] and knowledge[0] and guidance_ok
        body = {"status": "ready" if ready else "not ready", "database": database[1], "knowledge": knowledge[1],
                **guidance}
        return web.json_response(body, status=200 if ready else 503,
                                 headers=None if ready else {"Retry-After": str(max(1, round(self.timeout)))})

    def _knowledge(self) -> str:
        self.app.knowledge.ping()
        return "chroma server" if self.app.settings.chroma_url else "embedded chroma"

    async def _probe(self, name: str, check: Callable[[], str]) -> tuple[bool, str]:
        pending = self._pending.get(name)
        if pending is None or pending.done():
            pending = asyncio.get_running_loop().run_in_executor(self._pool, check)
            self._pending[name] = pending
        try:
            return True, str(await asyncio.wait_for(asyncio.shield(pending), self.timeout))
        except TimeoutError:
            return False, f"no answer within {self.timeout:g} s"
        except Exception as exc:  # noqa: BLE001 — report it; the probe itself must not fail
            return False, (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]

    async def close(self, _web_app: web.Application) -> None:
        """Stop the probe threads (a stuck probe is abandoned, not waited for)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
