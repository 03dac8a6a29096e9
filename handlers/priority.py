"""Acknowledgements first: background work yields while platform requests wait for their ack.

Slack (and Teams) give a request 3 seconds to be acknowledged. In one process, lazy listener
work and outbox deliveries share the CPU with those acknowledgements; under a burst they would
push acks back. Every ack path counts itself in `acking()`; background work calls `wait_quiet`
(asyncio) or `wait_quiet_blocking` (threads) before each job, which returns once no ack is in
flight, or after `max_wait` seconds so background work is never starved.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

POLL = 0.005
MAX_WAIT = 0.5


class AckPriority:
    """A thread-safe count of requests waiting for their acknowledgement."""

    def __init__(self, max_wait: float = MAX_WAIT) -> None:
        self.max_wait = max_wait
        self._lock = threading.Lock()
        self._in_flight = 0

    @contextmanager
    def acking(self) -> Iterator[None]:
        with self._lock:
            self._in_flight += 1
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1

    @property
    def in_flight(self) -> int:
        return self._in_flight

    async def wait_quiet(self) -> None:
        deadline = time.monotonic() + self.max_wait
        while self._in_flight and time.monotonic() < deadline:
            await asyncio.sleep(POLL)

    def wait_quiet_blocking(self) -> None:
        deadline = time.monotonic() + self.max_wait
        while self._in_flight and time.monotonic() < deadline:
            time.sleep(POLL)
