"""The acknowledged-request workers of a process without web routes (`revenant worker`): each configured
platform's worker, run by an AckedLoop on a thread of its own."""

from __future__ import annotations

import asyncio
import logging
import threading

from bot import slack_wiring, teams_wiring
from bot.acked_loop import AckedLoop, Worker, acked_store
from bot.bootstrap import App

log = logging.getLogger("revenant.acked")
STOP_GRACE = 5.0  # seconds requests being worked get to finish when the worker stops (as in `serve`)


def platform_workers(app: App) -> dict[str, Worker]:
    """The workers a process without the web routes (`revenant worker`) needs: Slack and Teams, if configured.

    The outbox loop of that process delivers what the work changes, so nothing needs nudging here.
    """
    async def changed() -> None:
        return None

    workers: dict[str, Worker] = {}
    if slack_wiring.slack_enabled(app):
        workers["slack"] = slack_wiring.slack_worker(slack_wiring.build_bolt(app, changed))
    if teams_wiring.teams_enabled(app):
        adapter, bot = teams_wiring.build_bot(app, changed)
        workers["teams"] = teams_wiring.teams_worker(app, adapter, bot)
    return workers


class AckedThread:
    """The worker's AckedLoop on a thread with its own event loop; `stop` ends it within a bound."""

    def __init__(self, app: App) -> None:
        self.app = app
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._grace = STOP_GRACE
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), name="revenant-acked", daemon=True)

    def start(self) -> AckedThread:
        self.thread.start()
        self._ready.wait(30)
        return self

    def stop(self, timeout: float = STOP_GRACE) -> None:
        """Stop claiming; requests being worked get up to `timeout` s, the rest are cancelled and their leases
        given back (AckedLoop.stop); returns once the thread has ended, or after the bound."""
        self._grace = timeout
        if self._loop is not None and self._stopping is not None and self.thread.is_alive():
            self._loop.call_soon_threadsafe(self._stopping.set)
        self.thread.join(2 * timeout + 1)

    async def _run(self) -> None:
        self._loop, self._stopping = asyncio.get_running_loop(), asyncio.Event()
        try:
            loop = AckedLoop(acked_store(self.app), platform_workers(self.app), monitor=self.app.acked_monitor)
        finally:
            self._ready.set()
        if not loop.workers:
            return
        await loop.start()
        await self._stopping.wait()
        await loop.stop(timeout=self._grace)


def start_in_thread(app: App, *, once: bool = False) -> AckedThread | None:
    """Work acknowledged requests in a thread with its own event loop (the worker is not asyncio);
    with `once`, work what is claimable now and return None."""
    if once:
        asyncio.run(_work_claimable(app))
        return None
    return AckedThread(app).start()


async def _work_claimable(app: App) -> None:
    loop = AckedLoop(acked_store(app), platform_workers(app), monitor=app.acked_monitor)
    if loop.workers:
        worked = await loop.run_until_idle()
        if worked:
            log.info("worked %d acknowledged request(s)", worked)
