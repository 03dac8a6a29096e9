"""Replay checks for a burst of signed requests, recorded together in one database transaction.

Each signed request must be recorded before it is acted on (a replay is refused). One transaction
per request costs a commit each; here requests that arrive while a check is in flight wait for
the next one, which records all of them at once, so a burst of 50 costs a few commits, not 50.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

MAX_BATCH = 200
K = TypeVar("K")
R = TypeVar("R")


class BatchedFirstSight(Generic[K, R]):
    """`await check(request)` answers for one request what `first_sights` answers for a batch: e.g. True the
    first time a signature is seen and False for a replay, or the id a request was recorded under."""

    def __init__(self, first_sights: Callable[[Sequence[K]], list[R]], max_batch: int = MAX_BATCH) -> None:
        self._first_sights = first_sights
        self._max_batch = max_batch
        self._pending: list[tuple[K, asyncio.Future[R]]] = []
        self._task: asyncio.Task[None] | None = None

    async def __call__(self, signature: K) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((signature, future))
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:self._max_batch], self._pending[self._max_batch:]
            try:
                answers = await asyncio.to_thread(self._first_sights, [s for s, _ in batch])
            except Exception as exc:  # noqa: BLE001 - every waiter gets the failure and answers it
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), answer in zip(batch, answers, strict=True):
                if not future.done():
                    future.set_result(answer)
