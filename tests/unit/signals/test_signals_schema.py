"""The Signal schema: enums, round-trip through to_dict/from_dict, immutability."""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle
from datetime import UTC, datetime, timedelta, timezone

import pytest

from incident_core.errors import ValidationError
from incident_core.model import Severity
from incident_core.signals import (
    Link,
    MetricValue,
    Signal,
    SignalKind,
    SignalSeverity,
    SignalStatus,
    correlation_keys_for,
    delivery_key_for,
    derive_fingerprint,
    truncate,
)
from tests.unit.signals.kit import load_payload, run


def make(**overrides: object) -> Signal:
    fields: dict[str, object] = dict(
        org_id="org-1", project_id="payments", source="generic", kind=SignalKind.ALERT,
        status=SignalStatus.FIRING, severity=SignalSeverity.ERROR, service="checkout", title="boom",
        labels={"env": "prod"}, fingerprint="fp-1", starts_at=datetime(2026, 1, 15, 9, 0, tzinfo=UTC),
        links=(Link("Runbook", "https://runbooks.example.com/x"),), values=(MetricValue("p99", 1.5),),
        raw={"title": "boom"},
    )
    fields.update(overrides)
    return Signal(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("severity", "incident", "rank"),
    [("critical", Severity.SEV1, 1), ("error", Severity.SEV2, 2), ("warning", Severity.SEV3, 3),
     ("info", Severity.SEV4, 4)],
)
def test_severity_maps_to_incident_severity(severity: str, incident: Severity, rank: int) -> None:
    assert SignalSeverity(severity).to_incident_severity() is incident
    assert SignalSeverity(severity).rank == rank


def test_severity_comparison_and_parse() -> None:
    assert SignalSeverity.CRITICAL.is_at_least(SignalSeverity.ERROR)
    assert SignalSeverity.ERROR.is_at_least(SignalSeverity.ERROR)
    assert not SignalSeverity.WARNING.is_at_least(SignalSeverity.ERROR)
    assert SignalSeverity.parse(" Page ") is SignalSeverity.CRITICAL
    assert SignalSeverity.parse("warn") is SignalSeverity.WARNING
    with pytest.raises(ValidationError, match="severity must be one of"):
        SignalSeverity.parse("catastrophic")


def test_round_trip_through_json() -> None:
    signal = run("alertmanager", load_payload("alertmanager", "firing_group"))[0]
    stored = json.loads(json.dumps(signal.to_dict()))
    again = Signal.from_dict(stored)
    assert again == signal
    assert again.delivery_key == signal.delivery_key
    assert again.raw == signal.raw
    assert again.to_dict() == signal.to_dict()


def test_round_trip_keeps_links_values_and_ends_at() -> None:
    signal = make(status=SignalStatus.RESOLVED, ends_at=datetime(2026, 1, 15, 9, 30, tzinfo=UTC))
    assert Signal.from_dict(json.loads(json.dumps(signal.to_dict()))) == signal


def test_from_dict_rejects_malformed_data() -> None:
    data = make().to_dict()
    del data["fingerprint"]
    with pytest.raises(ValidationError, match="not a stored signal"):
        Signal.from_dict(data)
    with pytest.raises(ValidationError):
        Signal.from_dict({**make().to_dict(), "kind": "telepathy"})


def test_labels_are_read_only_and_signal_hashable() -> None:
    signal = make()
    with pytest.raises(TypeError):
        signal.labels["env"] = "staging"  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        signal.title = "changed"  # type: ignore[misc]
    assert hash(signal) == hash(make())
    assert {signal, make()} == {signal}
    assert pickle.loads(pickle.dumps(signal)) == signal
    assert copy.deepcopy(signal) == signal
    assert dataclasses.replace(signal, project_id="other").labels == {"env": "prod"}


def test_times_become_utc() -> None:
    cet = timezone(timedelta(hours=1))
    signal = make(starts_at=datetime(2026, 1, 15, 10, 0, tzinfo=cet), ends_at=datetime(2026, 1, 15, 11, 0))
    assert signal.starts_at == datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
    assert signal.starts_at.tzinfo is UTC
    assert signal.ends_at == datetime(2026, 1, 15, 11, 0, tzinfo=UTC)


def test_delivery_key_covers_status_and_times_only() -> None:
    start = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
    key = delivery_key_for("alertmanager", "fp", "firing", start, None)
    assert key == make(source="alertmanager", fingerprint="fp", title="other", labels={}).delivery_key
    assert key != delivery_key_for("alertmanager", "fp", "resolved", start, None)
    assert key != delivery_key_for("alertmanager", "fp", "firing", start + timedelta(seconds=1), None)
    assert key != delivery_key_for("grafana", "fp", "firing", start, None)


def test_correlation_keys_only_those_present() -> None:
    assert correlation_keys_for(fingerprint="f") == ("fingerprint=f",)
    assert correlation_keys_for(
        fingerprint="f", service="api", alertname="Down", trace_id="t1", cluster="c", namespace="ns"
    ) == ("fingerprint=f", "trace_id=t1", "alertname+service=Down/api", "service=api", "cluster/namespace=c/ns")
    # An alert name alone is scoped by the namespace (and cluster) when there is no service.
    assert correlation_keys_for(fingerprint="f", alertname="Down", namespace="ns") == (
        "fingerprint=f", "alertname+scope=Down//ns", "namespace=ns",
    )
    assert correlation_keys_for(fingerprint="f", alertname="Down") == ("fingerprint=f", "alertname=Down")
    assert correlation_keys_for(fingerprint="f", alertname="Down", group="g1")[1] == "sender_group=g1"


def test_derive_fingerprint_is_order_independent() -> None:
    assert derive_fingerprint("x", {"a": "1", "b": "2"}) == derive_fingerprint("x", {"b": "2", "a": "1"})
    assert derive_fingerprint("x", {"a": "1"}) != derive_fingerprint("y", {"a": "1"})
    assert len(derive_fingerprint("x", {})) == 16


def test_truncate() -> None:
    assert truncate("abc", 5) == "abc"
    assert truncate("abcdef", 5) == "abcd…"
    assert len(truncate("x" * 1000, 300)) == 300


def test_signal_needs_org_and_fingerprint() -> None:
    with pytest.raises(ValidationError):
        make(org_id="")
    with pytest.raises(ValidationError):
        make(fingerprint="")
