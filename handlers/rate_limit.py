"""Failed authentications per source address: after too many in a window, that address waits (429)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class FailureLimiter:
    """At most `max_failures` failed attempts per address in `window` seconds; later ones wait it out.

    Only failures count, so a sender with a valid token is never slowed by its own traffic; an address
    that keeps guessing is refused before its guesses reach the token lookup (the database). Addresses
    are those the server sees: behind a reverse proxy, that is the proxy.
    """

    def __init__(self, *, max_failures: int = 20, window: float = 60.0, max_addresses: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures, self.window, self.max_addresses, self.clock = max_failures, window, max_addresses, clock
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, address: str) -> int | None:
        """Seconds this address must wait before trying again, or None when it may try now."""
        times = self._recent(address)
        if times is None or len(times) < self.max_failures:
            return None
        return max(1, int(times[0] + self.window - self.clock()) + 1)

    def failed(self, address: str) -> None:
        """Record one failed attempt."""
        times = self._recent(address)
        if times is None:
            if len(self._failures) >= self.max_addresses:
                self._prune()
            times = self._failures.setdefault(address, deque())
        times.append(self.clock())
        while len(times) > self.max_failures:
            times.popleft()

    def _recent(self, address: str) -> deque[float] | None:
        times = self._failures.get(address)
        if times is None:
            return None
        cutoff = self.clock() - self.window
        while times and times[0] < cutoff:
            times.popleft()
        if not times:
            del self._failures[address]
            return None
        return times

    def _prune(self) -> None:
        for address in list(self._failures):
            self._recent(address)
        while len(self._failures) >= self.max_addresses:  # still full: forget the oldest
            del self._failures[next(iter(self._failures))]
