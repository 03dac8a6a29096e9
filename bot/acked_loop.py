"""Work acknowledged chat requests from the durable record (storage/acked_work.py), in any process.

Each `serve` process and the `worker` run one loop: a sweep at start (what a killed process left
behind, once its leases run out), then a claim whenever an acknowledgement nudges it and at least
every `interval` seconds. A few requests are worked at once; each keeps its lease renewed while it
runs, and yields to acknowledgements in flight first (AckPriority).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator

from bot.acked_monitor import AckedMonitor
from bot.bootstrap import App
from handlers.priority import AckPriority
from incident_core.errors import StoreUnavailable
from storage.acked_work import AckedItem, AckedWork

log = logging.getLogger("revenant.acked")

Worker = Callable[[AckedItem], Awaitable[None]]
DEFAULT_CONCURRENCY = 2


def acked_store(app: App) -> AckedWork:
    """The durable record of acknowledged requests, with this deployment's lease."""
    return AckedWork(app.engine, lease=app.settings.ack_lease_seconds)


class AckedLoop:
    """Claims recorded requests and hands each to the worker of its platform, once."""

    def __init__(self, store: AckedWork, workers: dict[str, Worker], *, interval: float = 1.0,
                 concurrency: int = DEFAULT_CONCURRENCY, priority: AckPriority | None = None,
                 monitor: AckedMonitor | None = None) -> None:
        self.store = store
        self.monitor = monitor
        self.workers = workers
        self.interval = interval
        self.concurrency = max(1, concurrency)
        self.priority = priority
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._running: dict[int, asyncio.Task[None]] = {}
        self._held: set[int] = set()  # leased at birth and worked in their request (Teams): renewed too

    @contextlib.contextmanager
    def holding(self, item_id: int) -> Iterator[None]:
        """Keep renewing the lease of a record this process works outside the loop (in its request)."""
        self._held.add(item_id)
        try:
            yield
        finally:
            self._held.discard(item_id)

    def nudge(self) -> None:
        """Something was just recorded: claim now rather than at the next poll."""
        self._wake.set()

    async def start(self, *_: object) -> None:
        if self._task is None and self.workers:
            self._task = asyncio.create_task(self._run(), name="revenant-acked")

    async def stop(self, *_: object, timeout: float = 5.0) -> None:
        """Stop claiming; let what is running finish (up to `timeout`), leave the rest to its lease."""
        if self._task is not None:
            self._task.cancel()
            _ended, running = await asyncio.wait({self._task}, timeout=timeout)
            if running:  # a bounded stop whatever the loop does; its claims stay leased
                log.error("the acknowledged-request loop ignored its cancellation; stopping without it")
            self._task = None
        if self._running:
            _done, late = await asyncio.wait(list(self._running.values()), timeout=timeout)
            for task in late:
                task.cancel()

    async def run_until_idle(self) -> int:
        """Claim and work until nothing is left to claim (the worker's `--once`); returns how many were worked."""
        worked = 0
        while items := await asyncio.to_thread(self.store.claim, self.concurrency, list(self.workers)):
            await asyncio.gather(*(self._work(item) for item in items))
            worked += len(items)
        return worked

    async def _run(self) -> None:
        renewer = asyncio.create_task(self._renew(), name="revenant-acked-leases")
        try:
            while True:
                free = self.concurrency - len(self._running)
                items: list[AckedItem] = []
                if free > 0:
                    try:
                        items = await asyncio.to_thread(self.store.claim, free, list(self.workers))
                    except StoreUnavailable as exc:
                        log.warning("acknowledged requests wait: %s", exc)
                    except Exception:  # noqa: BLE001 — keep polling; the rows stay recorded
                        log.exception("claiming acknowledged requests failed")
                for item in items:
                    task = asyncio.create_task(self._work(item))
                    self._running[item.id] = task
                    task.add_done_callback(self._finished(item.id))
                if self.monitor is not None:
                    await asyncio.to_thread(self.monitor.refresh)  # reads the database every few seconds only
                if items and len(items) == free:
                    continue  # there may be more: claim again as soon as a slot frees
                # Not asyncio.wait_for: on Python 3.11 it returns normally when a cancellation lands as the
                # wake-up does (a request's nudge and stop() in one loop iteration); the loop then claimed on
                # and stop() waited for it forever: `serve` hung in its stop until the guard ended it.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.interval):
                        await self._wake.wait()
                self._wake.clear()
        finally:
            renewer.cancel()

    def _finished(self, item_id: int) -> Callable[[asyncio.Task[None]], None]:
        def done(_task: asyncio.Task[None]) -> None:
            self._running.pop(item_id, None)
            self._wake.set()  # a slot is free

        return done

    async def _renew(self) -> None:
        every = max(self.store.lease.total_seconds() / 3, 0.2)
        while True:
            await asyncio.sleep(every)
            if self._running or self._held:
                try:
                    await asyncio.to_thread(self.store.renew, [*self._running, *self._held])
                except Exception as exc:  # noqa: BLE001 — a lease that runs out is taken over; the work is idempotent
                    log.warning("could not renew leases: %s", exc)

    async def _work(self, item: AckedItem) -> None:
        worker = self.workers.get(item.platform)
        try:
            if worker is None:
                raise LookupError(f"no worker for {item.platform!r} requests in this process")
            if self.priority is not None:
                await self.priority.wait_quiet()
            await worker(item)
        except Exception as exc:  # noqa: BLE001 — retried after a backoff, then finished with the error
            log.warning("acknowledged %s request %s failed (attempt %d): %s", item.platform, item.id,
                        item.attempts, exc)
            try:
                retried = await asyncio.to_thread(self.store.retry_later, item.id, item.attempts,
                                                  f"{type(exc).__name__}: {exc}")
            except Exception:  # noqa: BLE001 — the lease runs out and the row is claimed again
                log.exception("could not record the failure of request %s", item.id)
                retried = True
            if not retried:
                log.error("gave up on acknowledged %s request %s after %d attempts: %s", item.platform, item.id,
                          item.attempts, exc)
            if self.monitor is not None:
                self.monitor.failed(item.platform, given_up=not retried)
            return
        try:
            await asyncio.to_thread(self.store.finish, item.id)
        except Exception:  # noqa: BLE001 — the lease runs out and it is worked again (idempotently)
            log.exception("could not mark request %s worked", item.id)
