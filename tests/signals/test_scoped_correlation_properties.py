"""Property: alerts that share only their name never merge across scopes (cluster + namespace, or service)."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from incident_core.correlation import CorrelationAction, OpenIncident, correlate
from tests.unit.signals.kit import run

NOW = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-0123456789", min_size=1, max_size=12)
scopes = st.tuples(st.one_of(st.none(), names), st.one_of(st.none(), names), st.one_of(st.none(), names))


def alert(alertname: str, scope: tuple[str | None, str | None, str | None], pod: str) -> dict:
    cluster, namespace, service = scope
    labels = {"alertname": alertname, "pod": pod, "severity": "critical"}
    labels.update({k: v for k, v in (("cluster", cluster), ("namespace", namespace), ("service", service)) if v})
    return {"version": "4", "status": "firing", "alerts": [{"status": "firing", "labels": labels,
                                                            "startsAt": "2026-01-15T09:59:00Z"}]}


def same_scope(a: tuple, b: tuple) -> bool:
    cluster_a, ns_a, svc_a = a
    cluster_b, ns_b, svc_b = b
    if svc_a or svc_b:
        return bool(svc_a and svc_a == svc_b) or bool(ns_a and (cluster_a, ns_a) == (cluster_b, ns_b))
    if ns_a or ns_b:
        return (cluster_a, ns_a) == (cluster_b, ns_b)
    return True  # neither has any scope: the alert name is all there is


@settings(max_examples=300, deadline=None)
@given(alertname=names, first=scopes, second=scopes, pod_a=names, pod_b=names)
def test_same_alert_name_in_unrelated_scopes_never_merges(alertname: str, first: tuple, second: tuple,
                                                          pod_a: str, pod_b: str) -> None:
    a = run("alertmanager", alert(alertname, first, pod_a))[0]
    b = run("alertmanager", alert(alertname, second, pod_b))[0]
    open_a = OpenIncident("i-1", "INC-1", frozenset(a.correlation_keys), NOW, NOW)
    decision = correlate(b, [open_a], now=NOW)
    if decision.action is CorrelationAction.ATTACH:
        assert same_scope(first, second) or a.fingerprint == b.fingerprint, decision.reason
        assert decision.matched_key is not None and decision.matched_key in decision.reason
    elif not same_scope(first, second):
        assert decision.action is CorrelationAction.OPEN
