"""Whether guidance is working: failures counted in /metrics and reported by /readyz, not only logged."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

# A failure this recent, with no success after it, makes /readyz report the knowledge base as failing.
FAILING_FOR_SECONDS = 300.0


@dataclass
class KnowledgeHealth:
    """Guidance outcomes of this process: a failure counter by error type and the last failure's message."""

    failures: Counter
    failing: Gauge
    clock: Callable[[], float] = time.monotonic
    last_error: str = ""
    last_failure_at: float | None = None
    last_success_at: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def create(cls, registry: CollectorRegistry, clock: Callable[[], float] = time.monotonic) -> KnowledgeHealth:
        """Register the metrics on the app's registry."""
        return cls(
            failures=Counter("revenant_guidance_failures_total", "Guidance offers that failed, by error type",
                             ["error"], registry=registry),
            failing=Gauge("revenant_guidance_failing", "1 while the last guidance attempt failed",
                          registry=registry),
            clock=clock,
        )

    def failed(self, exc: BaseException) -> None:
        """Record a failed guidance attempt."""
        with self._lock:
            self.failures.labels(type(exc).__name__).inc()
            self.failing.set(1)
            self.last_error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
            self.last_failure_at = self.clock()

    def succeeded(self) -> None:
        """Record a guidance attempt that worked."""
        with self._lock:
            self.failing.set(0)
            self.last_success_at = self.clock()

    def status(self) -> tuple[bool, dict[str, Any]]:
        """(ready, details): not ready while a recent failure has not been followed by a success."""
        with self._lock:
            recent = self.last_failure_at is not None and self.clock() - self.last_failure_at < FAILING_FOR_SECONDS
            recovered = self.last_success_at is not None and self.last_failure_at is not None and (
                self.last_success_at > self.last_failure_at)
            failing = recent and not recovered
            detail: dict[str, Any] = {"guidance": "failing" if failing else "ok"}
            if failing:
                detail["last_error"] = self.last_error[:300]
            return not failing, detail


@dataclass
class RecordedGuidance:
    """A guidance source whose outcomes KnowledgeHealth records (`/revenant suggest`: its failure is also
    shown to the person who asked, by the chat error handler)."""

    source: Any
    health: KnowledgeHealth

    def has_knowledge(self, org_id: str) -> bool:
        """The source's answer; a failure is recorded and raised, as guide()'s is."""
        try:
            known = bool(self.source.has_knowledge(org_id))
        except Exception as exc:
            self.health.failed(exc)
            raise
        return known

    def guide(self, request: Any) -> Any:
        """The source's guidance; a failure is recorded and raised."""
        try:
            guidance = self.source.guide(request)
        except Exception as exc:
            self.health.failed(exc)
            raise
        self.health.succeeded()
        return guidance
