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


def start_in_thread(app: App, *, once: bool = False) -> threading.Thread | None:
    """Work acknowledged requests in a thread with its own event loop (the worker is not asyncio);
    with `once`, work what is claimable now and return None."""

    async def run() -> None:
        loop = AckedLoop(acked_store(app), platform_workers(app), monitor=app.acked_monitor)
        if not loop.workers:
            return
        if once:
            worked = await loop.run_until_idle()
            if worked:
                log.info("worked %d acknowledged request(s)", worked)
            return
        await loop.start()
        await asyncio.Event().wait()  # forever: the thread is a daemon and ends with the process

    if once:
        asyncio.run(run())
        return None
    thread = threading.Thread(target=lambda: asyncio.run(run()), name="revenant-acked", daemon=True)
    thread.start()
    return thread
