"""apply copies the state's fields into the new state (as dataclasses.replace would), never what is remembered
on the object beside them (patterns' alert keys belong to the state they were computed for)."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta

import pytest

from incident_core import events as ev
from incident_core.model import Severity, Status
from incident_core.patterns import state_alert_keys
from incident_core.state import IncidentState, apply

T0 = datetime(2026, 12, 7, tzinfo=UTC)


def _declared() -> IncidentState:
    return apply(None, ev.IncidentDeclared(
        org_id="o", incident_id="i", version=1, occurred_at=T0, actor="a", number=1, title="t",
        severity=Severity.SEV2, status=Status.TRIGGERED, project_id=None, source="signal:test", summary=""))


def _attached(state: IncidentState, n: int) -> IncidentState:
    return apply(state, ev.SignalAttached(
        org_id="o", incident_id="i", version=state.version + 1, occurred_at=T0 + timedelta(seconds=n), actor="a",
        reason="r", signal={"kind": "alert", "status": "firing", "fingerprint": f"fp{n}", "service": "api",
                            "correlation_keys": [f"fingerprint=fp{n}", "alertname+service=Disk/api"]}))


@pytest.mark.parametrize("remembered", [False, True])
def test_the_new_state_has_the_fields_replace_gives_and_nothing_else(remembered: bool) -> None:
    before = _attached(_declared(), 1)
    if remembered:
        assert state_alert_keys(before) == ("alertname+service=Disk/api",)
        assert "_alert_keys" in before.__dict__
    after = _attached(before, 2)
    names = [f.name for f in fields(IncidentState)]
    assert list(after.__dict__) == names  # the fields, in declaration order, and no memo
    expected = replace(before, **{n: getattr(after, n) for n in ("version", "updated_at", "firing", "fired",
                                                                  "all_clear_at", "signal_count", "correlation_keys",
                                                                  "services", "last_signal_at", "first_signal_at",
                                                                  "recent_signals", "metric_points", "log_lines")})
    assert after == expected and after.to_dict() == expected.to_dict()
    assert (after.version, after.signal_count, after.firing) == (3, 2, ("fp1", "fp2"))
    with pytest.raises(TypeError):
        from incident_core.state import _evolve
        _evolve(after, {"no_such_field": 1})
