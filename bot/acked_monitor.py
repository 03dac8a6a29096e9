"""Acknowledged-request visibility: /metrics gauges of requests waiting per platform and the age of the
oldest, counters of failed attempts and of requests given up, and a /healthz reason when one waits too long.

A responder's command that was acknowledged but never worked is invisible in chat (Slack showed nothing
wrong), so operators need to see the backlog. The gauges come from a snapshot the acknowledged-request
loop refreshes (at most every `refresh_seconds`): a scrape never waits on the database.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from bot.throttled_read import ThrottledRead
from storage.acked_work import AckedWork

log = logging.getLogger("revenant.acked")
WAIT_THRESHOLD_SECONDS = 120.0  # /healthz says degraded when an acknowledged request waited longer
REFRESH_SECONDS = 10.0


@dataclass
class AckedSnapshot:
    waiting: list[tuple[str, int, datetime | None]] = field(default_factory=list)
    taken_at: datetime | None = None

    def oldest_seconds(self, platform: str | None = None) -> float:
        ages = [(self.taken_at - oldest).total_seconds() for p, _n, oldest in self.waiting
                if oldest is not None and self.taken_at is not None and platform in (None, p)]
        return max(ages, default=0.0)


class AckedMonitor(Collector):
    """Counters from this process's loop plus a periodically refreshed picture of every process's backlog."""

    def __init__(self, registry: CollectorRegistry, store: AckedWork, *,
                 wait_threshold: float = WAIT_THRESHOLD_SECONDS, refresh_seconds: float = REFRESH_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.wait_threshold = wait_threshold
        self._snapshot = ThrottledRead(lambda: AckedSnapshot(store.backlog(), datetime.now(UTC)), AckedSnapshot(),
                                       every=refresh_seconds, what="the acknowledged-request backlog", log=log,
                                       clock=clock)
        self.failures = Counter("revenant_acked_failed_attempts_total", "Failed attempts to work an "
                                "acknowledged chat request (each retried later or given up)", ["platform"],
                                registry=registry)
        self.given_up = Counter("revenant_acked_given_up_total", "Acknowledged chat requests given up after "
                                "their last attempt", ["platform"], registry=registry)
        registry.register(self)

    def failed(self, platform: str, *, given_up: bool) -> None:
        self.failures.labels(platform).inc()
        if given_up:
            self.given_up.labels(platform).inc()

    @property
    def snapshot(self) -> AckedSnapshot:
        return self._snapshot.value

    def refresh(self, *, force: bool = False) -> AckedSnapshot:
        """Re-read the backlog when the last read is older than `refresh_seconds` (or always with force)."""
        return self._snapshot.refresh(force=force)

    def health(self) -> tuple[bool, list[str]]:
        """(healthy, reasons) from the last snapshot only: never touches the database."""
        age = self.snapshot.oldest_seconds()
        if age <= self.wait_threshold:
            return True, []
        return False, [f"an acknowledged chat request has waited {age:.0f} s to be worked (threshold "
                       f"{self.wait_threshold:.0f} s): check that a `serve` or `worker` process with the "
                       "platform's credentials is running, and its log"]

    def collect(self) -> Iterator[GaugeMetricFamily]:
        snap = self.snapshot
        waiting = GaugeMetricFamily("revenant_acked_waiting", "Acknowledged chat requests not worked yet, "
                                    "per platform", labels=["platform"])
        oldest = GaugeMetricFamily("revenant_acked_oldest_waiting_seconds", "Age of the oldest acknowledged "
                                   "chat request not worked yet, per platform", labels=["platform"])
        for platform, count, _oldest in snap.waiting:
            waiting.add_metric([platform], count)
            oldest.add_metric([platform], snap.oldest_seconds(platform))
        yield from (waiting, oldest)

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())  # described lazily: collect() reads the snapshot
