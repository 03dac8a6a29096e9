"""In `revenant serve`, deliver the outbox in the background so one process is a complete app."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiohttp import web

from bot.bootstrap import App
from bot.worker import deliver_once, subscribers
from handlers.priority import AckPriority
from incident_core.errors import StoreUnavailable

log = logging.getLogger("revenant.outbox")


class OutboxLoop:
    """Polls every `interval` seconds, or at once when nudged after a chat command."""

    def __init__(self, app: App, interval: float = 1.0, priority: AckPriority | None = None) -> None:
        self.app = app
        self.interval = interval
        self._before_each = priority.wait_quiet_blocking if priority is not None else None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._subs = subscribers(app)
        self.enabled = bool(self._subs) and not app.overrides.get("no_outbox_loop")

    async def nudge(self) -> None:
        self._wake.set()

    async def start(self, _web_app: web.Application) -> None:
        if self.enabled:
            self._task = asyncio.create_task(self._run(), name="revenant-outbox")

    async def stop(self, _web_app: web.Application) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.to_thread(deliver_once, self.app, self._subs, before_each=self._before_each)
            except StoreUnavailable as exc:  # one line per pass while the database is away, not a traceback
                log.warning("outbox delivery paused: %s", exc)
            except Exception:  # noqa: BLE001 — keep delivering; the message stays pending and retries
                log.exception("outbox delivery pass failed")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.interval)
            self._wake.clear()
