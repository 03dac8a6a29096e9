"""Lazy listener work queued behind acknowledgements, so a burst of requests is acked first.

Bolt's default runner starts every lazy listener as its own task the moment its request is
acked; under a burst, dozens of them then compete with the acks still waiting for the event
loop. Here lazy work goes into a queue drained by a few workers: acks keep the loop, the work
still starts within moments, in arrival order, and none is dropped while the server runs
(`drain` finishes what is queued at shutdown). With an AckPriority, each job also waits for the
acks in flight (at most its max_wait).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from slack_bolt.lazy_listener.async_internals import to_runnable_function
from slack_bolt.lazy_listener.async_runner import AsyncLazyListenerRunner
from slack_bolt.request.async_request import AsyncBoltRequest

from handlers.priority import AckPriority

DEFAULT_WORKERS = 2

Job = Coroutine[Any, Any, None]


class QueuedLazyRunner(AsyncLazyListenerRunner):
    """A Bolt lazy-listener runner with a bounded number of concurrent lazy jobs."""

    def __init__(self, logger: logging.Logger, priority: AckPriority | None = None,
                 workers: int = DEFAULT_WORKERS) -> None:
        self.logger = logger
        self._priority = priority
        self._workers = max(1, workers)
        self._queue: asyncio.Queue[Job] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, function: Callable[..., Awaitable[None]], request: AsyncBoltRequest) -> None:
        job = to_runnable_function(internal_func=function, logger=self.logger, request=request)
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._tasks = [asyncio.ensure_future(self._work()) for _ in range(self._workers)]
        self._queue.put_nowait(job)

    async def _work(self) -> None:
        assert self._queue is not None
        while True:
            job = await self._queue.get()
            try:
                if self._priority is not None:
                    await self._priority.wait_quiet()
                await job
            except Exception:  # noqa: BLE001 - to_runnable_function logs listener errors; keep the worker alive
                self.logger.exception("lazy listener failed")
            finally:
                self._queue.task_done()

    async def drain(self, timeout: float = 30.0) -> None:
        """Finish the queued work (up to `timeout` seconds), then stop the workers."""
        if self._queue is not None:
            try:
                await asyncio.wait_for(self._queue.join(), timeout)
            except TimeoutError:
                self.logger.warning("%d lazy Slack jobs still queued at shutdown", self._queue.qsize())
                while not self._queue.empty():
                    self._queue.get_nowait().close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._queue, self._tasks = None, []
