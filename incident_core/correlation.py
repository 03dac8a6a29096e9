"""Pure correlation policy: does a signal attach to an open incident, open a new one, or neither?"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from incident_core.signals import Signal, SignalKind, SignalSeverity, SignalStatus, as_utc

DEFAULT_WINDOW = timedelta(minutes=30)
DEFAULT_MIN_SEVERITY = SignalSeverity.WARNING

# Strength of each correlation key kind (the part before "="); a higher number wins.
KEY_STRENGTH: dict[str, int] = {
    "fingerprint": 6,
    "trace_id": 5,
    "sender_group": 5,
    "alertname+service": 4,
    "alertname+scope": 4,
    "service": 3,
    "cluster/namespace": 2,
    "namespace": 1,
    "alertname": 1,
}


class CorrelationAction(StrEnum):
    """What to do with an incoming signal."""

    ATTACH = "attach"
    OPEN = "open"
    UPDATE_ONLY = "update_only"
    IGNORE = "ignore"


@dataclass(frozen=True)
class OpenIncident:
    """The little the policy needs to know about an open incident of the signal's org and project."""

    incident_id: str
    human_id: str
    correlation_keys: frozenset[str]
    last_signal_at: datetime
    opened_at: datetime


@dataclass(frozen=True)
class CorrelationDecision:
    """The policy's answer and the sentence a responder reads to understand it."""

    action: CorrelationAction
    incident_id: str | None
    matched_key: str | None
    reason: str


def key_strength(key: str) -> int:
    """The strength of a "name=value" correlation key; unknown kinds count as 0 (weakest)."""
    return KEY_STRENGTH.get(key.partition("=")[0], 0)


def _ago(now: datetime, then: datetime) -> str:
    minutes = int((now - then).total_seconds() // 60)
    if minutes < 1:
        return "less than a minute ago"
    if minutes < 120:
        return f"{minutes} min ago"
    return f"{minutes // 60} h ago"


def _window_text(window: timedelta) -> str:
    minutes = window.total_seconds() / 60
    return f"{minutes:g} min"


def _best_match(
    signal: Signal, incidents: Iterable[OpenIncident]
) -> tuple[OpenIncident, str] | None:
    """The incident sharing the strongest key with the signal; ties go to the most recent signal."""
    best: tuple[int, datetime, str, OpenIncident, str] | None = None
    keys = frozenset(signal.correlation_keys)
    for incident in incidents:
        shared = keys.intersection(incident.correlation_keys)
        if not shared:
            continue
        key = max(shared, key=lambda k: (key_strength(k), k))
        rank = (key_strength(key), as_utc(incident.last_signal_at), incident.incident_id)
        if best is None or rank > best[:3]:
            best = (*rank, incident, key)
    return None if best is None else (best[3], best[4])


def correlate(
    signal: Signal,
    open_incidents: Iterable[OpenIncident],
    *,
    now: datetime,
    window: timedelta = DEFAULT_WINDOW,
    min_severity: SignalSeverity = DEFAULT_MIN_SEVERITY,
) -> CorrelationDecision:
    """Decide whether `signal` attaches to an open incident, opens one, updates one, or is ignored.

    Rules: a firing signal attaches to the open incident sharing its strongest key whose last signal is
    at most `window` old (inclusive); otherwise an alert/log/metric opens an incident when its severity
    is at least `min_severity`. A change signal never opens one. A resolved signal updates the matching
    incident whatever its age (update_only) and never opens one.
    """
    now = as_utc(now)
    incidents = list(open_incidents)
    if signal.status is SignalStatus.RESOLVED:
        match = _best_match(signal, incidents)
        if match is None:
            return CorrelationDecision(
                CorrelationAction.IGNORE, None, None,
                "resolved signal matches no open incident: ignored, a resolved signal never opens an incident",
            )
        incident, key = match
        return CorrelationDecision(
            CorrelationAction.UPDATE_ONLY, incident.incident_id, key,
            f"resolved signal for {incident.human_id} (same {key}): updated, never opens an incident",
        )

    recent = [i for i in incidents if now - as_utc(i.last_signal_at) <= window]
    match = _best_match(signal, recent)
    if match is not None:
        incident, key = match
        return CorrelationDecision(
            CorrelationAction.ATTACH, incident.incident_id, key,
            f"attached to {incident.human_id}: same {key} as a signal "
            f"{_ago(now, as_utc(incident.last_signal_at))}",
        )
    stale = _best_match(signal, incidents)
    nothing_recent = (
        f"no open incident shares a key within {_window_text(window)}"
        if stale is None
        else f"{stale[0].human_id} shares {stale[1]} but its last signal is older than {_window_text(window)}"
    )
    if signal.kind is SignalKind.CHANGE:
        return CorrelationDecision(
            CorrelationAction.IGNORE, None, None,
            f"not opening an incident: a change never opens one, and {nothing_recent}",
        )
    if not signal.severity.is_at_least(min_severity):
        return CorrelationDecision(
            CorrelationAction.IGNORE, None, None,
            f"not opening an incident: severity {signal.severity} is below the project's minimum "
            f"{min_severity} ({nothing_recent})",
        )
    return CorrelationDecision(
        CorrelationAction.OPEN, None, None, f"opened a new incident: {nothing_recent}"
    )
