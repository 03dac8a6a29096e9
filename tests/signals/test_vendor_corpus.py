"""Every vendor payload in the corpus normalizes to its expected result and gets a 2xx over real HTTP."""

from __future__ import annotations

import pytest

from incident_core.signals import GROUP_KEY, Signal
from tests.handlers.conftest import Server
from tests.signals.vendor_corpus import cases, load
from tests.unit.signals.kit import run

CASES = cases()
IDS = [f"{s}/{n}" for s, n in CASES]


def test_corpus_covers_every_documented_event() -> None:
    names = {(s, n) for s, n in CASES}
    for event in ("triggered", "acknowledged", "unacknowledged", "reopened", "resolved", "escalated", "delegated",
                  "reassigned", "priority_updated", "annotated", "status_update_published", "responder_added",
                  "responder_replied"):
        assert ("pagerduty", event) in names, event
    assert {("datadog", "default_payload"), ("datadog", "template_triggered")} <= names
    assert {("grafana", "docs_example"), ("grafana", "legacy_value_string")} <= names
    assert {("alertmanager", "large_group_truncated"), ("alertmanager", "crashloop_shop_resolved")} <= names
    for source, name in CASES:
        entry = load(source, name)
        assert entry["source"].strip() and "changed" in entry, f"{source}/{name} must say where it came from"


def _fingerprint_of(source: str, name: str) -> str:
    return run(source, load(source, name)["payload"])[0].fingerprint


def check(source: str, signal: Signal, expect: dict, all_signals: list[Signal]) -> None:
    """Compare one normalized signal with its expectation."""
    for field in ("kind", "status", "severity"):
        if field in expect:
            assert getattr(signal, field).value == expect[field], field
    for field in ("title", "fingerprint"):
        if field in expect:
            assert getattr(signal, field) == expect[field], field
    if "service" in expect:
        assert signal.service == expect["service"], "service"
    if "values" in expect:
        assert {v.name: v.value for v in signal.values} == expect["values"]
    if "labels" in expect:
        assert {k: signal.labels.get(k) for k in expect["labels"]} == expect["labels"]
    if "scope_key" in expect:
        assert expect["scope_key"] in signal.correlation_keys
        assert not any(k.startswith("alertname=") for k in signal.correlation_keys), "unscoped alertname key"
    if expect.get("group") == "shared":
        groups = {k for s in all_signals for k in s.correlation_keys if k.startswith(f"{GROUP_KEY}=")}
        assert len(groups) == 1
    if expect.get("truncated"):
        assert "left 40 more alert(s) out" in signal.description
    if expect.get("joins_nothing"):
        assert signal.correlation_keys == (f"fingerprint={signal.fingerprint}",)
    if "fingerprint_as" in expect:
        assert signal.fingerprint == _fingerprint_of(source, expect["fingerprint_as"])


@pytest.mark.parametrize(("source", "name"), CASES, ids=IDS)
def test_normalized_as_expected(source: str, name: str) -> None:
    entry = load(source, name)
    signals = run(source, entry["payload"])
    assert len(signals) == len(entry["expect"])
    for signal, expect in zip(signals, entry["expect"], strict=True):
        check(source, signal, expect, signals)


@pytest.mark.parametrize(("source", "name"), CASES, ids=IDS)
async def test_every_fixture_gets_a_2xx(server: Server, source: str, name: str) -> None:
    _, token = server.org()
    entry = load(source, name)
    status, body = await server.post(source, entry["payload"], token)
    assert status == 202, body
    assert body["accepted"] == len(entry["expect"])
    for answer, expect in zip(body["signals"], entry["expect"], strict=True):
        if expect.get("joins_nothing"):  # recorded in the decision log, with its reason
            assert answer["action"] == "ignore" and "a change never opens one" in answer["reason"]
