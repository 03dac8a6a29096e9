"""The acknowledged-request loop stops when told, even when a nudge wakes it in the same loop iteration.

On Python 3.11, `asyncio.wait_for` returns normally when a cancellation lands as the awaited event fires: the
loop then claimed again after `stop()` and `stop()` waited for it forever (`serve` hung in its stop).
"""

from __future__ import annotations

import asyncio
from typing import Any

from bot.acked_loop import AckedLoop
from bot.bootstrap import App
from storage.acked_work import AckedItem, AckedWork


async def test_a_stop_that_lands_with_a_nudge_ends_the_loop_without_claiming_again(app: App) -> None:
    stopping = False
    claims_while_stopping: list[int] = []

    class Watched(AckedWork):
        def claim(self, *args: Any, **kwargs: Any) -> list[AckedItem]:
            if stopping:
                claims_while_stopping.append(1)
            return super().claim(*args, **kwargs)

    async def worker(_item: AckedItem) -> None:
        return None

    acked = AckedLoop(Watched(app.engine), {"slack": worker}, interval=60)
    await acked.start()
    task = acked._task  # noqa: SLF001 - the test watches the loop's own task
    assert task is not None
    while not acked._wake._waiters:  # noqa: SLF001 - idle: waiting for a nudge
        await asyncio.sleep(0.01)
    acked.nudge()  # a request recorded just now ...
    stopping = True
    async with asyncio.timeout(60):  # ... and SIGTERM in the same iteration; without the fix this never ends
        await acked.stop()
    assert task.done() and task.cancelled()
    assert claims_while_stopping == []
