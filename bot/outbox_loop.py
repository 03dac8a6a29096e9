"""In `revenant serve`, deliver the outbox in the background so one process is a complete app.

The passes run on a daemon thread of their own, not on the event loop's executor: stopping the server
never waits for a subscriber call (the loop's default executor is joined at shutdown), only for at
most `STOP_GRACE` seconds; an abandoned message comes back to a process when its lease lapses.
"""

from __future__ import annotations

import asyncio
import logging
import threading

from aiohttp import web

from bot.bootstrap import App
from bot.delivery import STOP_GRACE, Deliverer
from bot.worker import deliverer, subscribers
from handlers.priority import AckPriority
from incident_core.errors import StoreUnavailable

log = logging.getLogger("revenant.outbox")


class OutboxLoop:
    """Polls every `interval` seconds, or at once when nudged after a chat command."""

    def __init__(self, app: App, interval: float = 1.0, priority: AckPriority | None = None) -> None:
        self.app = app
        self.interval = interval
        self._subs = subscribers(app)
        self.enabled = bool(self._subs) and not app.overrides.get("no_outbox_loop")
        self._deliverer: Deliverer = deliverer(
            app, self._subs, before_each=priority.wait_quiet_blocking if priority is not None else None, running=True)
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    async def nudge(self) -> None:
        self._wake.set()

    async def start(self, _web_app: web.Application) -> None:
        if self.enabled:
            self._thread = threading.Thread(target=self._run, name="revenant-outbox", daemon=True)
            self._thread.start()

    async def stop(self, _web_app: web.Application) -> None:
        """Stop within 2 × STOP_GRACE seconds, whatever the deliveries are doing.

        The joins run on a thread of their own, not the loop's default pool: at shutdown that pool may be
        full of chat work blocked on the database, and a join queued behind it would wait as long."""
        self._deliverer.stop()
        self._wake.set()
        joiner = threading.Thread(target=self._join, name="revenant-outbox-stop", daemon=True)
        joiner.start()
        while joiner.is_alive():
            await asyncio.sleep(0.05)

    def _join(self) -> None:
        if self._thread is not None:
            self._thread.join(STOP_GRACE)
            if self._thread.is_alive():
                log.warning("outbox delivery still busy at shutdown; its message returns when the lease lapses")
        self._deliverer.join(STOP_GRACE)  # subscriber calls still running

    def _run(self) -> None:
        while not self._deliverer.stopped:
            try:
                self._deliverer.run_pass()
                self.app.delivery_monitor.refresh()
            except StoreUnavailable as exc:  # one line per pass while the database is away, not a traceback
                log.warning("outbox delivery paused: %s", exc)
            except Exception:  # noqa: BLE001 — keep delivering; the message stays pending and retries
                log.exception("outbox delivery pass failed")
            self._wake.wait(self._deliverer.next_wait(self.interval))  # a deferred refresh: back when it is due
            self._wake.clear()
