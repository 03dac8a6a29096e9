"""Bad payloads become PayloadError(422) naming the JSON path; limits truncate rather than reject."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from handlers.signals import SOURCES, PayloadError, UnknownSource
from incident_core.signals import DESCRIPTION_LIMIT, TITLE_LIMIT, SignalKind, SignalSeverity, SignalStatus
from tests.unit.signals.kit import load_payload, run


def _error(source: str, payload: Any) -> PayloadError:
    with pytest.raises(PayloadError) as caught:
        run(source, payload)
    assert caught.value.status == 422
    return caught.value


def test_sources() -> None:
    assert set(SOURCES) == {"alertmanager", "grafana", "datadog", "pagerduty", "generic"}


def test_unknown_source() -> None:
    with pytest.raises(UnknownSource) as caught:
        run("opsgenie", {})
    assert caught.value.status == 404
    assert "alertmanager" in str(caught.value)
    assert caught.value.as_dict()["known_sources"] == list(SOURCES)


@pytest.mark.parametrize("source", ["alertmanager", "grafana", "datadog", "pagerduty"])
@pytest.mark.parametrize("body", [None, 3, "text", True, []])
def test_non_object_body(source: str, body: Any) -> None:
    error = _error(source, body)
    assert error.field == ""
    assert error.as_dict()["field"] == "(body)"


def test_generic_rejects_scalars_but_accepts_lists() -> None:
    assert _error("generic", "hello").field == ""
    assert run("generic", []) == []


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda p: p.pop("alerts"), "alerts"),
        (lambda p: p.update(alerts={"a": 1}), "alerts"),
        (lambda p: p["alerts"].append("oops"), "alerts[2]"),
        (lambda p: p["alerts"][0].update(labels=["a"]), "alerts[0].labels"),
        (lambda p: p["alerts"][0].pop("labels"), "alerts[0].labels"),
        (lambda p: p["alerts"][1]["labels"].update(pod=7), "alerts[1].labels.pod"),
        (lambda p: p["alerts"][0].update(status="exploded"), "alerts[0].status"),
        (lambda p: p["alerts"][0].update(startsAt="yesterday"), "alerts[0].startsAt"),
        (lambda p: p["alerts"][0].update(startsAt=True), "alerts[0].startsAt"),
        (lambda p: p["alerts"][0].update(fingerprint=12), "alerts[0].fingerprint"),
        (lambda p: p.update(truncatedAlerts="3"), "truncatedAlerts"),
        (lambda p: p.update(version=4), "version"),
        (lambda p: p.update(commonLabels=[]), "commonLabels"),
    ],
)
def test_alertmanager_shape_errors(mutate: Any, field: str) -> None:
    payload = load_payload("alertmanager", "firing_group")
    mutate(payload)
    assert _error("alertmanager", payload).field == field


def test_alert_status_falls_back_to_the_group_status() -> None:
    payload = load_payload("alertmanager", "resolved")
    del payload["alerts"][0]["status"]
    assert run("alertmanager", payload)[0].status is SignalStatus.RESOLVED


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda p: p["alerts"][0].update(values={"B": "high"}), "alerts[0].values.B"),
        (lambda p: p["alerts"][0].update(values=[1, 2]), "alerts[0].values"),
        (lambda p: p.update(orgId=[1]), "orgId"),
        (lambda p: p["alerts"][1].update(dashboardURL=5), "alerts[1].dashboardURL"),
    ],
)
def test_grafana_shape_errors(mutate: Any, field: str) -> None:
    payload = load_payload("grafana", "firing_values")
    mutate(payload)
    assert _error("grafana", payload).field == field


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda p: [p.pop("alert_title"), p.pop("event_title")], "alert_title"),
        (lambda p: [p.pop(k) for k in ("id", "aggreg_key", "alert_id", "alert_cycle_key")], "aggreg_key"),
        (lambda p: p.update(tags=["env:prod"]), "tags"),
        (lambda p: p.update(date="soon"), "date"),
        (lambda p: p.update(value="lots"), "value"),
    ],
)
def test_datadog_shape_errors(mutate: Any, field: str) -> None:
    payload = load_payload("datadog", "triggered")
    mutate(payload)
    assert _error("datadog", payload).field == field


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda p: p.pop("event"), "event"),
        (lambda p: p["event"].pop("event_type"), "event.event_type"),
        (lambda p: p["event"].pop("data"), "event.data"),
        (lambda p: p["event"]["data"].pop("id"), "event.data.id"),
        (lambda p: p["event"]["data"].update(service="checkout"), "event.data.service"),
        (lambda p: p["event"]["data"].update(number="12"), "event.data.number"),
        (lambda p: p["event"].update(occurred_at=[]), "event.occurred_at"),
    ],
)
def test_pagerduty_shape_errors(mutate: Any, field: str) -> None:
    payload = load_payload("pagerduty", "triggered")
    mutate(payload)
    assert _error("pagerduty", payload).field == field


def test_pagerduty_ping_and_other_resources_give_an_update_that_can_join_nothing() -> None:
    payload = load_payload("pagerduty", "triggered")
    payload["event"].update(resource_type="service", event_type="service.updated")
    for signal in (run("pagerduty", load_payload("pagerduty", "ping"))[0], run("pagerduty", payload)[0]):
        assert signal.kind.value == "change" and signal.fingerprint.startswith("pagerduty-event:")
        assert signal.correlation_keys == (f"fingerprint={signal.fingerprint}",)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"status": "firing"}, "title"),
        ({"title": 5}, "title"),
        ({"title": "x", "severity": "catastrophic"}, "severity"),
        ({"title": "x", "status": "sideways"}, "status"),
        ({"title": "x", "kind": "rumour"}, "kind"),
        ({"title": "x", "labels": {"a": {"b": 1}}}, "labels.a"),
        ({"title": "x", "value": "NaN"}, "value"),
        ({"title": "x", "values": [{"name": "a", "value": True}]}, "values[0].value"),
        ({"title": "x", "links": [{"title": "no url"}]}, "links[0].url"),
        ({"title": "x", "starts_at": "not a time"}, "starts_at"),
        ({"title": "x", "starts_at": 1e300}, "starts_at"),
        ([{"title": "ok"}, {"title": None, "status": "firing"}], "[1].title"),
        ({"signals": [{"title": "ok"}, 7]}, "signals[1]"),
        ({"signals": "all of them"}, "signals"),
        ({"body": "x", "severity_number": "high"}, "severity_number"),
        ({"body": "x", "attributes": [{"value": {"stringValue": "v"}}]}, "attributes[0].key"),
        ({"resourceLogs": [{"scopeLogs": [{"logRecords": [{"body": "x", "timeUnixNano": "soon"}]}]}]},
         "resourceLogs[0].scopeLogs[0].logRecords[0].timeUnixNano"),
        ({"resourceLogs": {"a": 1}}, "resourceLogs"),
    ],
)
def test_generic_shape_errors(payload: Any, field: str) -> None:
    assert _error("generic", payload).field == field


def test_long_text_is_truncated_not_rejected() -> None:
    payload = load_payload("generic", "alert")
    payload.update(title="T" * 1000, description="D" * 10_000, labels={"big": "v" * 5000})
    signal = run("generic", payload)[0]
    assert len(signal.title) == TITLE_LIMIT and signal.title.endswith("…")
    assert len(signal.description) == DESCRIPTION_LIMIT
    assert len(signal.labels["big"]) == 1024


def test_unsafe_links_and_control_characters_are_dropped() -> None:
    payload = {"title": "a\x00b", "links": ["javascript:alert(1)", {"title": "ok", "url": "https://x.example/"}]}
    signal = run("generic", payload)[0]
    assert signal.title == "ab"
    assert [link.url for link in signal.links] == ["https://x.example/"]
    assert run("generic", {"title": "\ud800 lone surrogate"})[0].title == "lone surrogate"  # removed, not "?"


def test_generic_defaults_and_aliases() -> None:
    signal = run("generic", {"title": "disk almost full", "status": "OK", "severity": "P2"})[0]
    assert signal.status is SignalStatus.RESOLVED
    assert signal.severity is SignalSeverity.ERROR
    assert signal.kind is SignalKind.ALERT
    bare = run("generic", {"title": "something"})[0]
    assert (bare.status, bare.severity, bare.service) == (SignalStatus.FIRING, SignalSeverity.WARNING, None)


@pytest.mark.parametrize(
    ("number", "text", "expected"),
    [(1, None, "info"), (8, None, "info"), (9, None, "info"), (12, None, "info"), (13, None, "warning"),
     (16, None, "warning"), (17, None, "error"), (20, None, "error"), (21, None, "critical"),
     (24, None, "critical"), (None, "WARN", "warning"), (None, "Error2", "error"), (None, "FATAL", "critical"),
     (0, "ERROR", "error"), (None, None, "info"), ("SEVERITY_NUMBER_ERROR", None, "error")],
)
def test_otel_severity_mapping(number: Any, text: Any, expected: str) -> None:
    record: dict[str, Any] = {"body": "x"}
    if number is not None:
        record["severityNumber"] = number
    if text is not None:
        record["severityText"] = text
    assert run("generic", record)[0].severity.value == expected


@pytest.mark.parametrize(
    ("label", "expected"),
    [("critical", "critical"), ("page", "critical"), ("error", "error"), ("high", "error"),
     ("warning", "warning"), ("warn", "warning"), ("info", "info"), ("none", "info"), ("bogus", "warning"),
     (None, "warning")],
)
def test_alertmanager_severity_label(label: str | None, expected: str) -> None:
    payload = load_payload("alertmanager", "truncated")
    labels = payload["alerts"][0]["labels"]
    labels.pop("severity")
    if label is not None:
        labels["severity"] = label
    assert run("alertmanager", payload)[0].severity.value == expected


@pytest.mark.parametrize(
    ("priority", "alert_type", "expected"),
    [("P1", "error", "critical"), ("P2", "warning", "error"), ("P3", "error", "warning"), ("P5", "error", "info"),
     ("", "error", "error"), ("", "warning", "warning"), ("", "info", "info"), ("", "success", "info")],
)
def test_datadog_severity(priority: str, alert_type: str, expected: str) -> None:
    payload = load_payload("datadog", "triggered")
    payload.update(alert_priority=priority, alert_type=alert_type)
    assert run("datadog", payload)[0].severity.value == expected


@pytest.mark.parametrize(
    ("priority", "urgency", "expected"),
    [(None, "high", "critical"), (None, "low", "warning"), ({"summary": "P2"}, "high", "error"),
     ({"summary": "P4"}, "high", "info")],
)
def test_pagerduty_severity(priority: Any, urgency: str, expected: str) -> None:
    payload = copy.deepcopy(load_payload("pagerduty", "triggered"))
    payload["event"]["data"].update(priority=priority, urgency=urgency)
    assert run("pagerduty", payload)[0].severity.value == expected
