"""Fingerprints stay stable across deliveries; delivery keys tell exact redeliveries apart."""

from __future__ import annotations

import copy

from tests.unit.signals.kit import RECEIVED_AT, load_payload, run


def _without_source_fingerprint(payload: dict) -> dict:
    payload = copy.deepcopy(payload)
    for alert in payload["alerts"]:
        alert.pop("fingerprint", None)
    return payload


def test_alertmanager_uses_its_own_fingerprint() -> None:
    first, second = run("alertmanager", load_payload("alertmanager", "firing_group"))
    assert (first.fingerprint, second.fingerprint) == ("5f0b5c7e2a1d9c33", "a41e77c09b3f2d18")


def test_resolved_notification_repeats_the_fingerprint() -> None:
    firing = run("alertmanager", load_payload("alertmanager", "firing_group"))[0]
    resolved = run("alertmanager", load_payload("alertmanager", "resolved"))[0]
    assert resolved.fingerprint == firing.fingerprint
    assert resolved.correlation_keys == firing.correlation_keys
    assert resolved.delivery_key != firing.delivery_key


def test_derived_fingerprint_ignores_annotations_and_is_stable_when_resolved() -> None:
    payload = _without_source_fingerprint(load_payload("alertmanager", "firing_group"))
    before = run("alertmanager", payload)
    changed = copy.deepcopy(payload)
    for alert in changed["alerts"]:
        alert["annotations"] = {"summary": "reworded", "description": "new text, new value 9.9%"}
        alert["generatorURL"] = "https://prometheus.example.com/other"
    after = run("alertmanager", changed)
    assert [s.fingerprint for s in before] == [s.fingerprint for s in after]
    assert before[0].fingerprint != before[1].fingerprint  # different pod label → different alert
    resolved = copy.deepcopy(payload)
    resolved["alerts"][0].update(status="resolved", endsAt="2026-01-15T10:20:00Z")
    assert run("alertmanager", resolved)[0].fingerprint == before[0].fingerprint


def test_derived_fingerprint_changes_with_identifying_labels() -> None:
    payload = _without_source_fingerprint(load_payload("alertmanager", "firing_group"))
    before = run("alertmanager", payload)[0]
    payload["alerts"][0]["labels"]["pod"] = "checkout-new"
    assert run("alertmanager", payload)[0].fingerprint != before.fingerprint


def test_grafana_values_do_not_move_the_fingerprint() -> None:
    payload = load_payload("grafana", "firing_values")
    for alert in payload["alerts"]:
        alert.pop("fingerprint")
    before = run("grafana", payload)
    for alert in payload["alerts"]:
        alert["values"] = {"B": 99.9, "C": 1}
    after = run("grafana", payload)
    assert [s.fingerprint for s in before] == [s.fingerprint for s in after]
    assert [s.values for s in before] != [s.values for s in after]


def test_exact_redelivery_has_the_same_delivery_key() -> None:
    payload = load_payload("alertmanager", "firing_group")
    first = run("alertmanager", payload)
    again = run("alertmanager", copy.deepcopy(payload), received_at=RECEIVED_AT.replace(minute=7))
    assert [s.delivery_key for s in first] == [s.delivery_key for s in again]
    assert first == again


def test_repeat_notification_with_changed_annotations_is_absorbed() -> None:
    payload = load_payload("alertmanager", "firing_group")
    first = run("alertmanager", payload)[0]
    payload["alerts"][0]["annotations"]["description"] = "now 9.1% HTTP 5xx"
    assert run("alertmanager", payload)[0].delivery_key == first.delivery_key


def test_datadog_recovery_matches_its_trigger() -> None:
    triggered = run("datadog", load_payload("datadog", "triggered"))[0]
    recovered = run("datadog", load_payload("datadog", "recovered"))[0]
    assert triggered.fingerprint == recovered.fingerprint == "8fc6b1e2a9c0d4f3"
    assert (triggered.status, recovered.status) == ("firing", "resolved")


def test_datadog_without_aggregation_key_uses_monitor_and_scope() -> None:
    payload = load_payload("datadog", "warn_host")
    first = run("datadog", payload)[0]
    payload["event_msg"] = "Disk at 85%"
    payload["value"] = 85
    assert run("datadog", payload)[0].fingerprint == first.fingerprint
    payload["alert_scope"] = "host:db-3"
    assert run("datadog", payload)[0].fingerprint != first.fingerprint


def test_pagerduty_events_share_the_incident_fingerprint_but_not_delivery_keys() -> None:
    names = ("triggered", "acknowledged", "priority_updated", "resolved")
    signals = [run("pagerduty", load_payload("pagerduty", n))[0] for n in names]
    assert {s.fingerprint for s in signals} == {"Q2LUBX6RSQKNTV"}
    assert len({s.delivery_key for s in signals}) == 4
    assert [s.status.value for s in signals] == ["firing", "firing", "firing", "resolved"]
    assert [s.kind.value for s in signals] == ["alert", "change", "change", "alert"]  # an ack is an update, not a re-trigger


def test_generic_fingerprint_ignores_description_and_values() -> None:
    payload = load_payload("generic", "alert")
    payload.pop("fingerprint")
    first = run("generic", payload)[0]
    payload.update(description="different words", value=1)
    assert run("generic", payload)[0].fingerprint == first.fingerprint


def test_log_records_with_the_same_message_share_a_fingerprint() -> None:
    record = load_payload("generic", "otel_log")
    first = run("generic", record)[0]
    record.update(timestamp="2026-01-15T09:57:00Z", trace_id="aa" * 16, attributes={"x": 1})
    second = run("generic", record)[0]
    assert second.fingerprint == first.fingerprint
    assert second.delivery_key != first.delivery_key
