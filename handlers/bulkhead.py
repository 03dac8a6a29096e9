"""A per-tenant bulkhead for blocking work: one org cannot take every thread.

Blocking work (normalizing and recording signals) runs in a thread pool of its own, not in the
event loop's default pool. Each key (an org) may run at most `per_key` jobs at once and keep at
most `queue_per_key` waiting; a job over that is refused at once with `Overloaded` (the edge
answers 429 with Retry-After) instead of queueing behind everyone else. Waiting jobs of one key
are admitted in arrival order. With `threads` > `per_key`, another org's job always finds a free
thread while one org is saturated.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


class Overloaded(Exception):
    """This key already has its share of jobs running and its queue full."""

    def __init__(self, key: str, running: int, waiting: int, retry_after: int = 2) -> None:
        super().__init__(f"{running} requests of this org are being recorded and {waiting} wait; "
                         "retry shortly")
        self.key, self.retry_after = key, retry_after


@dataclass
class _Lane:
    running: int = 0
    waiters: deque[asyncio.Future[None]] = field(default_factory=deque)


class Bulkhead:
    """Bounded, per-key fair concurrency for blocking calls (`await bulkhead.run(org_id, fn, *args)`)."""

    def __init__(self, *, threads: int = 8, per_key: int = 2, queue_per_key: int = 32,
                 name: str = "revenant-ingest") -> None:
        if per_key >= threads:
            raise ValueError("per_key must be below threads, or one key could still take them all")
        self.threads, self.per_key, self.queue_per_key = threads, per_key, queue_per_key
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=name)
        self._lanes: dict[str, _Lane] = {}
        self.admitted: deque[str] = deque(maxlen=1000)  # keys in the order their jobs started (for tests and metrics)

    def load(self, key: str) -> tuple[int, int]:
        """(running, waiting) for one key."""
        lane = self._lanes.get(key)
        return (lane.running, len(lane.waiters)) if lane else (0, 0)

    async def run(self, key: str, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` in the pool once `key` has a free slot; Overloaded when its queue is full."""
        lane = self._lanes.setdefault(key, _Lane())
        if lane.running >= self.per_key:
            if len(lane.waiters) >= self.queue_per_key:
                raise Overloaded(key, lane.running, len(lane.waiters))
            turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            lane.waiters.append(turn)
            try:
                await turn  # a finishing job hands its slot over (running stays counted)
            except asyncio.CancelledError:
                if turn.done() and not turn.cancelled():
                    self._release(key, lane)  # the slot was ours already: pass it on
                else:
                    lane.waiters.remove(turn)
                raise
        else:
            lane.running += 1
        self.admitted.append(key)
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)
        finally:
            self._release(key, lane)

    def _release(self, key: str, lane: _Lane) -> None:
        while lane.waiters:
            turn = lane.waiters.popleft()
            if not turn.done():
                turn.set_result(None)
                return
        lane.running -= 1
        if lane.running == 0 and not lane.waiters:
            self._lanes.pop(key, None)

    def close(self) -> None:
        """Stop the pool once running jobs finish."""
        self._pool.shutdown(wait=False, cancel_futures=True)
