"""Request log shared by every emulator: what arrived, for assertions in tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request as the emulator received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    raw: bytes = b""
    operation: str = ""
    status: int = 0
    at: float = field(default_factory=time.time)

    def matches(self, pattern: str) -> bool:
        """True when `pattern` names this request: path, operation, "METHOD path" or a glob of them."""
        return any(fnmatchcase(key, pattern) for key in self.keys())

    def keys(self) -> tuple[str, ...]:
        """The names a fault or a filter may use for this request."""
        keys = [self.path, f"{self.method} {self.path}", self.method]
        if self.operation:
            keys.append(self.operation)
        return tuple(keys)


class RequestLog:
    """Thread-safe list of recorded requests with small query helpers."""

    def __init__(self) -> None:
        self._items: list[RecordedRequest] = []
        self._cond = threading.Condition()

    def append(self, item: RecordedRequest) -> None:
        """Record one request and wake up waiters."""
        with self._cond:
            self._items.append(item)
            self._cond.notify_all()

    def all(self) -> list[RecordedRequest]:
        """Every request so far, oldest first."""
        with self._cond:
            return list(self._items)

    def filter(self, pattern: str | None = None, *, method: str | None = None) -> list[RecordedRequest]:
        """Requests whose path/operation matches `pattern` (glob), optionally by HTTP method."""
        return [
            r
            for r in self.all()
            if (pattern is None or r.matches(pattern)) and (method is None or r.method == method.upper())
        ]

    def count(self, pattern: str | None = None, *, method: str | None = None) -> int:
        """How many requests match."""
        return len(self.filter(pattern, method=method))

    def last(self, pattern: str | None = None, *, method: str | None = None) -> RecordedRequest:
        """The newest matching request; AssertionError when there is none."""
        found = self.filter(pattern, method=method)
        if not found:
            raise AssertionError(f"no request matched {pattern!r}; got {[r.keys()[1] for r in self.all()]}")
        return found[-1]

    def bodies(self, pattern: str | None = None) -> list[Any]:
        """Parsed bodies of the matching requests."""
        return [r.body for r in self.filter(pattern)]

    def wait_for(
        self, pattern: str | None = None, *, count: int = 1, timeout: float = 5.0
    ) -> list[RecordedRequest]:
        """Block until at least `count` matching requests arrived; AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        predicate: Callable[[], bool] = lambda: self._count_locked(pattern) >= count  # noqa: E731
        with self._cond:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out waiting for {count} x {pattern!r}")
                self._cond.wait(remaining)
        return self.filter(pattern)

    def clear(self) -> None:
        """Forget everything recorded."""
        with self._cond:
            self._items.clear()

    def _count_locked(self, pattern: str | None) -> int:
        return sum(1 for r in self._items if pattern is None or r.matches(pattern))

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)
