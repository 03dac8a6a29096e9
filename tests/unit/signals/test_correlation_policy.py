"""Correlation policy: window edges, strongest key, resolved never opens, minimum severity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from incident_core.correlation import (
    CorrelationAction,
    OpenIncident,
    correlate,
    key_strength,
)
from incident_core.signals import Signal, SignalKind, SignalSeverity, SignalStatus, correlation_keys_for

NOW = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)


def signal(
    *, fingerprint: str = "fp-1", service: str | None = "checkout", alertname: str | None = "HighErrorRate",
    trace_id: str | None = None, status: SignalStatus = SignalStatus.FIRING,
    severity: SignalSeverity = SignalSeverity.ERROR, kind: SignalKind = SignalKind.ALERT,
    cluster: str | None = "prod", namespace: str | None = "shop",
) -> Signal:
    keys = correlation_keys_for(fingerprint=fingerprint, service=service, alertname=alertname,
                                trace_id=trace_id, cluster=cluster, namespace=namespace)
    return Signal(org_id="org-1", project_id="shop", source="alertmanager", kind=kind, status=status,
                  severity=severity, service=service, title="t", fingerprint=fingerprint,
                  correlation_keys=keys, starts_at=NOW)


def incident(number: int, keys: set[str], minutes_ago: float) -> OpenIncident:
    last = NOW - timedelta(minutes=minutes_ago)
    return OpenIncident(f"id-{number}", f"INC-{number}", frozenset(keys), last, last - timedelta(hours=1))


def test_attaches_on_same_fingerprint_within_window() -> None:
    decision = correlate(signal(), [incident(42, {"fingerprint=fp-1"}, 4)], now=NOW)
    assert decision.action is CorrelationAction.ATTACH
    assert (decision.incident_id, decision.matched_key) == ("id-42", "fingerprint=fp-1")
    assert decision.reason == "attached to INC-42: same fingerprint=fp-1 as a signal 4 min ago"


def test_window_edge_is_inclusive() -> None:
    at_edge = correlate(signal(), [incident(1, {"fingerprint=fp-1"}, 30)], now=NOW)
    assert at_edge.action is CorrelationAction.ATTACH
    past = correlate(signal(), [incident(1, {"fingerprint=fp-1"}, 30.01)], now=NOW)
    assert past.action is CorrelationAction.OPEN
    assert "INC-1 shares fingerprint=fp-1 but its last signal is older than 30 min" in past.reason


def test_custom_window() -> None:
    open_incident = [incident(7, {"service=checkout"}, 50)]
    assert correlate(signal(), open_incident, now=NOW).action is CorrelationAction.OPEN
    decision = correlate(signal(), open_incident, now=NOW, window=timedelta(hours=1))
    assert decision.action is CorrelationAction.ATTACH
    assert decision.reason == "attached to INC-7: same service=checkout as a signal 50 min ago"


def test_opens_when_nothing_shares_a_key() -> None:
    decision = correlate(signal(), [incident(3, {"service=payments"}, 1)], now=NOW)
    assert decision.action is CorrelationAction.OPEN
    assert decision.incident_id is None and decision.matched_key is None
    assert decision.reason == "opened a new incident: no open incident shares a key within 30 min"


def test_strongest_key_wins_over_recency() -> None:
    incidents = [
        incident(1, {"service=checkout"}, 1),
        incident(2, {"alertname+service=HighErrorRate/checkout"}, 10),
        incident(3, {"cluster/namespace=prod/shop"}, 0.5),
    ]
    decision = correlate(signal(), incidents, now=NOW)
    assert decision.incident_id == "id-2"
    assert decision.matched_key == "alertname+service=HighErrorRate/checkout"


def test_trace_id_beats_alertname_and_service() -> None:
    incidents = [incident(1, {"alertname+service=HighErrorRate/checkout"}, 1), incident(2, {"trace_id=abc"}, 20)]
    assert correlate(signal(trace_id="abc"), incidents, now=NOW).incident_id == "id-2"


def test_fingerprint_beats_everything() -> None:
    incidents = [incident(1, {"trace_id=abc", "service=checkout"}, 1), incident(2, {"fingerprint=fp-1"}, 25)]
    assert correlate(signal(trace_id="abc"), incidents, now=NOW).incident_id == "id-2"


def test_tie_goes_to_most_recent() -> None:
    incidents = [incident(1, {"service=checkout"}, 12), incident(2, {"service=checkout"}, 3),
                 incident(3, {"service=checkout"}, 20)]
    decision = correlate(signal(), incidents, now=NOW)
    assert decision.incident_id == "id-2"
    assert decision.reason == "attached to INC-2: same service=checkout as a signal 3 min ago"


def test_below_minimum_severity_is_ignored() -> None:
    decision = correlate(signal(severity=SignalSeverity.WARNING), [], now=NOW, min_severity=SignalSeverity.ERROR)
    assert decision.action is CorrelationAction.IGNORE
    assert decision.reason.startswith(
        "not opening an incident: severity warning is below the project's minimum error"
    )


def test_below_minimum_still_attaches_to_a_matching_incident() -> None:
    decision = correlate(signal(severity=SignalSeverity.INFO), [incident(5, {"fingerprint=fp-1"}, 2)], now=NOW,
                         min_severity=SignalSeverity.CRITICAL)
    assert decision.action is CorrelationAction.ATTACH


@pytest.mark.parametrize(
    ("severity", "minimum", "opens"),
    [("critical", "critical", True), ("error", "critical", False), ("error", "error", True),
     ("warning", "warning", True), ("info", "warning", False), ("info", "info", True)],
)
def test_minimum_severity_table(severity: str, minimum: str, opens: bool) -> None:
    decision = correlate(signal(severity=SignalSeverity(severity)), [], now=NOW,
                         min_severity=SignalSeverity(minimum))
    assert (decision.action is CorrelationAction.OPEN) is opens


def test_resolved_updates_regardless_of_window() -> None:
    decision = correlate(signal(status=SignalStatus.RESOLVED), [incident(42, {"fingerprint=fp-1"}, 600)], now=NOW)
    assert decision.action is CorrelationAction.UPDATE_ONLY
    assert decision.incident_id == "id-42"
    assert decision.reason == "resolved signal for INC-42 (same fingerprint=fp-1): updated, never opens an incident"


def test_resolved_never_opens() -> None:
    decision = correlate(signal(status=SignalStatus.RESOLVED, severity=SignalSeverity.CRITICAL), [], now=NOW,
                         min_severity=SignalSeverity.INFO)
    assert decision.action is CorrelationAction.IGNORE
    assert "never opens an incident" in decision.reason


def test_change_attaches_but_never_opens() -> None:
    change = signal(kind=SignalKind.CHANGE, severity=SignalSeverity.CRITICAL)
    assert correlate(change, [incident(1, {"service=checkout"}, 5)], now=NOW).action is CorrelationAction.ATTACH
    decision = correlate(change, [], now=NOW)
    assert decision.action is CorrelationAction.IGNORE
    assert "a change never opens one" in decision.reason


def test_ago_wording() -> None:
    just_now = correlate(signal(), [incident(1, {"fingerprint=fp-1"}, 0.2)], now=NOW)
    assert just_now.reason.endswith("less than a minute ago")
    future = correlate(signal(), [incident(1, {"fingerprint=fp-1"}, -3)], now=NOW)
    assert future.action is CorrelationAction.ATTACH


def test_naive_now_is_utc() -> None:
    decision = correlate(signal(), [incident(1, {"fingerprint=fp-1"}, 4)], now=NOW.replace(tzinfo=None))
    assert decision.action is CorrelationAction.ATTACH


def test_key_strength_order() -> None:
    ordered = ["fingerprint=a", "trace_id=a", "alertname+service=a/b", "service=a", "cluster/namespace=a/b"]
    strengths = [key_strength(k) for k in ordered]
    assert strengths == sorted(strengths, reverse=True) and len(set(strengths)) == len(strengths)
    assert key_strength("mystery=1") == 0


@settings(max_examples=200, deadline=None)
@given(
    status=st.sampled_from(list(SignalStatus)), severity=st.sampled_from(list(SignalSeverity)),
    minimum=st.sampled_from(list(SignalSeverity)), kind=st.sampled_from(list(SignalKind)),
    ages=st.lists(st.floats(min_value=-5, max_value=600), max_size=4),
    keys=st.lists(st.sampled_from(["fingerprint=fp-1", "service=checkout", "service=other", "trace_id=t"]),
                  max_size=4),
)
def test_policy_invariants(status, severity, minimum, kind, ages, keys) -> None:
    incidents = [incident(i, set(keys[i:i + 2]), age) for i, age in enumerate(ages)]
    decision = correlate(signal(status=status, severity=severity, kind=kind), incidents, now=NOW,
                         min_severity=minimum)
    if status is SignalStatus.RESOLVED:
        assert decision.action in (CorrelationAction.UPDATE_ONLY, CorrelationAction.IGNORE)
    if decision.action is CorrelationAction.OPEN:
        assert severity.is_at_least(minimum) and kind is not SignalKind.CHANGE
    assert (decision.incident_id is None) == (decision.action in (CorrelationAction.OPEN, CorrelationAction.IGNORE))
    assert decision.reason
