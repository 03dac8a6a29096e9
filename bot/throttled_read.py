"""A database reading taken at most every few seconds, shared by the monitors behind /metrics and /healthz."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class ThrottledRead(Generic[T]):
    """Holds the last value of `read()`; `refresh()` re-reads only when it is older than `every` seconds.

    A failed read keeps the last value and logs one warning (/readyz reports the database itself)."""

    def __init__(self, read: Callable[[], T], initial: T, *, every: float, what: str, log: logging.Logger,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.read = read
        self.value = initial
        self.every = every
        self.what = what
        self.log = log
        self.clock = clock
        self._at: float | None = None
        self._lock = threading.Lock()

    def refresh(self, *, force: bool = False) -> T:
        now = self.clock()
        with self._lock:
            if not force and self._at is not None and now - self._at < self.every:
                return self.value
            self._at = now
        try:
            self.value = self.read()
        except Exception as exc:  # noqa: BLE001 — keep the last picture
            self.log.warning("could not read %s: %s", self.what, exc)
        return self.value
