"""A small thread-safe map whose entries expire: lookups the database answers the same way for a while."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """Entries live `ttl` seconds; `clear` drops everything (call it when this process changes the data)."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic, size: int = 10_000) -> None:
        self._ttl = ttl
        self._clock = clock
        self._size = size
        self._lock = threading.Lock()
        self._items: dict[K, tuple[V, float]] = {}

    def get(self, key: K) -> V | None:
        with self._lock:
            entry = self._items.get(key)
        if entry is None or self._clock() - entry[1] > self._ttl:
            return None
        return entry[0]

    def put(self, key: K, value: V) -> None:
        with self._lock:
            if len(self._items) >= self._size:
                self._items.clear()
            self._items[key] = (value, self._clock())

    def pop(self, key: K) -> None:
        with self._lock:
            self._items.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
