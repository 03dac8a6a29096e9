"""Prometheus metrics, one registry per app (no module-level singletons)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram


@dataclass
class Metrics:
    registry: CollectorRegistry
    signals_received: Counter
    signals_accepted: Counter
    signals_rejected: Counter
    incidents_opened: Counter
    ingest_latency: Histogram
    http_requests: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> Metrics:
        return cls(
            registry=registry,
            signals_received=Counter("revenant_signals_received_total", "Webhook deliveries received",
                                     ["source"], registry=registry),
            signals_accepted=Counter("revenant_signals_accepted_total", "Signals accepted",
                                     ["source"], registry=registry),
            signals_rejected=Counter("revenant_signals_rejected_total", "Webhook deliveries rejected",
                                     ["source", "reason"], registry=registry),
            incidents_opened=Counter("revenant_incidents_opened_total", "Incidents opened",
                                     ["source"], registry=registry),
            ingest_latency=Histogram("revenant_ingest_seconds", "Webhook handling time", ["source"],
                                     buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
                                     registry=registry),
            http_requests=Counter("revenant_http_requests_total", "HTTP requests by route and status",
                                  ["route", "status"], registry=registry),
        )
