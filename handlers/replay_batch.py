"""Replay checks for a burst of signed requests, recorded together in one database transaction.

Each signed request must be recorded before it is acted on (a replay is refused). One transaction
per request costs a commit each; here requests that arrive while a check is in flight wait for
the next one, which records all of them at once, so a burst of 50 costs a few commits, not 50.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

MAX_BATCH = 200


class BatchedFirstSight:
    """`await check(signature)` is True the first time a signature is seen, False for a replay."""

    def __init__(self, first_sights: Callable[[Sequence[str]], list[bool]], max_batch: int = MAX_BATCH) -> None:
        self._first_sights = first_sights
        self._max_batch = max_batch
        self._pending: list[tuple[str, asyncio.Future[bool]]] = []
        self._task: asyncio.Task[None] | None = None

    async def __call__(self, signature: str) -> bool:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
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
