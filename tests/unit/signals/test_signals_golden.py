"""Every fixture payload normalizes to its reviewed golden output."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.unit.signals.kit import PAYLOADS, golden_view, load_payload, run

CASES = sorted((p.parent.name, p.stem) for p in PAYLOADS.glob("*/*.json"))


def test_fixtures_cover_every_source() -> None:
    assert {source for source, _ in CASES} == {"alertmanager", "grafana", "datadog", "pagerduty", "generic"}
    assert len(CASES) >= 15


@pytest.mark.parametrize(("source", "name"), CASES, ids=[f"{s}/{n}" for s, n in CASES])
def test_golden(source: str, name: str, golden) -> None:
    signals = run(source, load_payload(source, name))
    golden(f"{source}/{name}", golden_view(signals))
    for signal in signals:
        assert signal.starts_at.utcoffset() == timedelta(0)
        assert signal.correlation_keys[0] == f"fingerprint={signal.fingerprint}"
        assert signal.raw, "the original payload item is kept"
