"""Webhook payload normalizers: every source's payload becomes a list of incident_core Signals."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from types import MappingProxyType

from handlers.signals import alertmanager, datadog, generic, grafana, pagerduty
from handlers.signals._common import Context
from handlers.signals.errors import PayloadError, SignalHandlerError, UnknownSource
from incident_core.signals import Signal, as_utc

Normalizer = Callable[[object, Context], list[Signal]]

SOURCES: MappingProxyType[str, Normalizer] = MappingProxyType(
    {
        "alertmanager": alertmanager.normalize,
        "grafana": grafana.normalize,
        "datadog": datadog.normalize,
        "pagerduty": pagerduty.normalize,
        "generic": generic.normalize,
    }
)

__all__ = ["SOURCES", "PayloadError", "SignalHandlerError", "UnknownSource", "normalize"]


def normalize(
    source: str, payload: object, *, org_id: str, project_id: str | None, received_at: datetime
) -> list[Signal]:
    """Normalize one parsed JSON webhook body from `source`; raises only PayloadError or UnknownSource."""
    normalizer = SOURCES.get(source.strip().lower()) if isinstance(source, str) else None
    if normalizer is None:
        raise UnknownSource(str(source), tuple(SOURCES))
    return normalizer(payload, Context(org_id, project_id, as_utc(received_at)))
