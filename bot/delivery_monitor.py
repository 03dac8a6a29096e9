"""Delivery visibility: /metrics counters and gauges per org and subscriber, and the health /healthz reports.

Counters (this process): deliveries done, failed attempts, deliveries that went dead, and the lag from a
message's creation to its last subscriber. Gauges (every process's work, read from the database at most
every `refresh_seconds`, after a delivery pass): retrying and dead deliveries
per org and subscriber, due messages per org, and the age of the oldest due message. The delivery loop
refreshes that picture; /metrics and /healthz read only the last snapshot in memory, so neither waits on
the database.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from bot.throttled_read import ThrottledRead
from storage.outbox import PendingMessage
from storage.outbox_admin import DeliveryCount, SqlOutboxAdmin

log = logging.getLogger("revenant.delivery")
LAG_THRESHOLD_SECONDS = 300.0  # /healthz says degraded when a due message has waited longer than this
REFRESH_SECONDS = 10.0


@dataclass
class Snapshot:
    counts: list[DeliveryCount] = field(default_factory=list)
    taken_at: datetime | None = None

    def dead(self) -> int:
        return sum(c.count for c in self.counts if c.state == "dead")

    def oldest_due_seconds(self) -> float:
        ages = [(self.taken_at - c.oldest).total_seconds() for c in self.counts
                if c.state == "due" and c.oldest is not None and self.taken_at is not None]
        return max(ages, default=0.0)


class DeliveryMonitor(Collector):
    """This process's delivery counters plus a periodically refreshed picture of every org's backlog."""

    def __init__(self, registry: CollectorRegistry, admin: SqlOutboxAdmin, *,
                 lag_threshold: float = LAG_THRESHOLD_SECONDS, refresh_seconds: float = REFRESH_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.admin = admin
        self.lag_threshold = lag_threshold
        self._snapshot = ThrottledRead(lambda: Snapshot(admin.counts(), datetime.now(UTC)), Snapshot(),
                                       every=refresh_seconds, what="delivery counts", log=log, clock=clock)
        labels = ["org", "subscriber"]
        self.done = Counter("revenant_outbox_delivered_total", "Deliveries completed, per org and subscriber",
                            labels, registry=registry)
        self.failures = Counter("revenant_outbox_failed_attempts_total", "Failed delivery attempts (each retried "
                                "later or dead), per org and subscriber", labels, registry=registry)
        self.deaths = Counter("revenant_outbox_dead_total", "Deliveries that reached the attempt cap",
                              labels, registry=registry)
        self.lag = Histogram("revenant_outbox_delivery_lag_seconds", "From a message's creation until its last "
                             "subscriber is done", buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600),
                             registry=registry)
        registry.register(self)

    # --- events from the deliverer ------------------------------------------------------------------
    def delivered(self, msg: PendingMessage, subscriber: str, _attempts: int) -> None:
        self.done.labels(msg.org_id, subscriber).inc()

    def failed(self, msg: PendingMessage, subscriber: str, *, dead: bool) -> None:
        self.failures.labels(msg.org_id, subscriber).inc()
        if dead:
            self.deaths.labels(msg.org_id, subscriber).inc()

    def completed(self, msg: PendingMessage) -> None:
        if msg.created_at is not None:
            self.lag.observe(max((datetime.now(UTC) - msg.created_at).total_seconds(), 0.0))

    # --- the backlog picture ------------------------------------------------------------------------
    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot.value

    def refresh(self, *, force: bool = False) -> Snapshot:
        """Re-read the counts when the last read is older than `refresh_seconds` (or always with force)."""
        return self._snapshot.refresh(force=force)

    def health(self) -> tuple[bool, list[str]]:
        """(healthy, reasons) from the last snapshot only: never touches the database."""
        snap = self.snapshot
        reasons: list[str] = []
        dead = snap.dead()
        if dead:
            reasons.append(f"{dead} dead deliveries: see `revenant outbox status --org ORG`, then retry or drop them")
        lag = snap.oldest_due_seconds()
        if lag > self.lag_threshold:
            reasons.append(f"the oldest due outbox message has waited {lag:.0f} s (threshold {self.lag_threshold:.0f} s)")
        return not reasons, reasons

    def collect(self) -> Iterator[GaugeMetricFamily]:
        snap = self.snapshot  # refreshed by the delivery loop: a scrape never waits on the database
        deliveries = GaugeMetricFamily("revenant_outbox_deliveries", "Deliveries retrying or dead, per org and "
                                       "subscriber", labels=["org", "subscriber", "state"])
        due = GaugeMetricFamily("revenant_outbox_due_messages", "Messages due now, per org", labels=["org"])
        oldest = GaugeMetricFamily("revenant_outbox_oldest_due_seconds", "Age of the oldest due message, per org",
                                   labels=["org"])
        for c in snap.counts:
            if c.state == "due":
                due.add_metric([c.org_id], c.count)
                if c.oldest is not None and snap.taken_at is not None:
                    oldest.add_metric([c.org_id], (snap.taken_at - c.oldest).total_seconds())
            else:
                deliveries.add_metric([c.org_id, c.subscriber, c.state], c.count)
        lag = GaugeMetricFamily("revenant_outbox_lag_seconds", "Age of the oldest due message of any org")
        lag.add_metric([], snap.oldest_due_seconds())
        yield from (deliveries, due, oldest, lag)

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())  # described lazily: collect() reads the database
