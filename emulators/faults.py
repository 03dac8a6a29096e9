"""Fault injection shared by every emulator: rate limits, server errors and delays, consumed in order."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from emulators.recording import RecordedRequest


@dataclass
class Fault:
    """One planned fault: answer `status` (or pass through when None) after `delay` seconds, `times` times.

    `lag` serves the request normally and then holds the answer back that many seconds: the change is
    made, but a client with a shorter timeout never learns it (a lost response).
    """

    match: str
    status: int | None = None
    retry_after: float | None = None
    delay: float = 0.0
    lag: float = 0.0
    times: int = 1
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    used: int = 0

    @property
    def exhausted(self) -> bool:
        """True once the fault has fired `times` times."""
        return self.used >= self.times


class FaultPlan:
    """Ordered list of faults; the first unexhausted fault that matches a request fires."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> Fault:
        """Queue a fault behind the ones already planned."""
        if fault.times < 1:
            raise ValueError("times must be >= 1")
        if fault.status is None and fault.delay <= 0 and fault.lag <= 0:
            raise ValueError("a fault needs a status, a delay or a lag")
        if fault.status is not None and fault.lag > 0:
            raise ValueError("a lag holds back a served answer: it cannot go with an error status")
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, request: RecordedRequest) -> Fault | None:
        """Consume and return the first fault matching `request`, if any."""
        with self._lock:
            for fault in self._faults:
                if not fault.exhausted and (fault.match == "*" or request.matches(fault.match)):
                    fault.used += 1
                    return fault
        return None

    def pending(self) -> list[Fault]:
        """Faults that have not fired all their times yet."""
        with self._lock:
            return [f for f in self._faults if not f.exhausted]

    def clear(self) -> None:
        """Drop every planned fault."""
        with self._lock:
            self._faults.clear()
