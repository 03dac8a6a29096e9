"""Guidance ranks the recurring pattern's postmortems first in "seen before" (the hook: GuidanceRequest.prefer,
filled from the incident's recorded recurrence)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from incident_core.model import Severity, Status
from incident_core.recurrence import preferred_sources
from incident_core.state import IncidentState
from incident_core.state_models import PriorPostmortem, Recurrence
from knowledge.guidance_seen import seen_before
from knowledge.models import Hit

STATE = IncidentState(incident_id="i9", org_id="o", project_id=None, number=9, title="checkout errors",
                      status=Status.TRIGGERED, severity=Severity.SEV2, created_at=datetime(2026, 1, 1, tzinfo=UTC),
                      updated_at=datetime(2026, 1, 1, tzinfo=UTC), version=1, declared_by="x",
                      correlation_keys={"alertname+service=HighErrorRate/checkout": "t"}, services=("checkout",))


def _hit(path: str, text: str, score: float) -> Hit:
    return Hit(source=f"{path}#resolution", score=score, text=text, title=path, section="Resolution", path=path,
               kind="postmortem", service="checkout")


def test_the_patterns_postmortems_come_first() -> None:
    same_alert = _hit("postmortems/2025-12-01-inc-2.md", "HighErrorRate/checkout fired.\nResolved by: rollback", 0.9)
    pattern_pm = _hit("postmortems/2025-12-20-inc-7.md", "Checkout pods were scaled up.\nResolved by: scaling", 0.2)
    weights = {"checkout": 1.0, "errors": 1.0}
    plain = seen_before(STATE, [same_alert, pattern_pm], weights, 0.4)
    assert [s.source.split("#")[0] for s in plain][:1] == ["postmortems/2025-12-01-inc-2.md"]
    recurring = replace(STATE, recurrence=Recurrence(key="alertname=HighErrorRate", prior=("INC-7",), postmortems=(
        PriorPostmortem(incident="INC-7", path="postmortems/2025-12-20-inc-7.md"),)))
    prefer = preferred_sources(recurring)
    assert prefer == ("postmortems/2025-12-20-inc-7.md",)
    ranked = seen_before(recurring, [same_alert, pattern_pm], weights, 0.4, prefer=prefer)
    assert ranked[0].source.startswith("postmortems/2025-12-20-inc-7.md") and ranked[0].why == "same recurring pattern"
    assert ranked[0].resolution == "scaling" and len(ranked) == 2
