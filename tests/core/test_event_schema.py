"""Event schema versions: the upcaster chain, and events read back in today's shape."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from incident_core import event_schema
from incident_core import events as ev
from incident_core.event_schema import current_version, upcast, upcaster
from incident_core.model import ActionGate
from incident_core.state import apply_all
from incident_core.state_models import ActionStatus

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ENVELOPE = {"org_id": "o", "incident_id": "i", "occurred_at": NOW, "actor": "u:alice"}
V1_REQUEST = {"action_id": "a1", "action": "restart_deployment", "risk": "low", "command": "kubectl rollout restart",
              "reversible": False, "undo": None, "params": {}, "summary": "restart", "reason": "", "source": None,
              "confirmed": False, "awaiting": "", "suggestion_id": None}


def test_every_type_starts_at_one_and_grows_by_its_upcasters() -> None:
    assert all(cls.schema_version == current_version(name) for name, cls in ev.EVENT_TYPES.items())
    assert ev.IncidentDeclared.schema_version == 1 and ev.ActionRequested.schema_version == 2


def test_a_v1_action_request_reads_as_v2() -> None:
    event = ev.event_from_record(type_name="ActionRequested", data=V1_REQUEST, version=2, **ENVELOPE)
    assert isinstance(event, ev.ActionRequested) and event.awaiting is None
    waiting = ev.event_from_record(type_name="ActionRequested", data={**V1_REQUEST, "awaiting": "approval"},
                                   version=2, **ENVELOPE)
    assert isinstance(waiting, ev.ActionRequested) and waiting.awaiting is ActionGate.APPROVAL
    # A v2 payload is taken as it is: null and a gate both round-trip through payload().
    for e in (event, waiting):
        again = ev.event_from_record(type_name=e.type_name, data=e.payload(), version=2,
                                     schema_version=e.schema_version, **ENVELOPE)
        assert again == e


def test_the_fold_of_a_v1_stream_uses_the_upcast_shape() -> None:
    declared = ev.IncidentDeclared(**ENVELOPE, version=1, number=1, title="t", severity=ev.Severity.SEV3,
                                   status=ev.Status.TRIGGERED)
    for awaiting, status in (("", ActionStatus.REQUESTED), ("confirmation", ActionStatus.AWAITING_CONFIRMATION)):
        request = ev.event_from_record(type_name="ActionRequested", data={**V1_REQUEST, "awaiting": awaiting},
                                       version=2, **ENVELOPE)
        state = apply_all(None, [declared, request])
        assert state is not None and state.actions["a1"].status is status


def test_a_version_newer_than_the_code_is_refused() -> None:
    with pytest.raises(ValueError, match="newer than this code understands"):
        upcast("ActionRequested", 3, dict(V1_REQUEST))


def test_upcasters_form_one_chain_per_type() -> None:
    with pytest.raises(ValueError, match="two upcasters"):
        upcaster("ActionRequested", 1)(lambda d: d)
    with pytest.raises(ValueError, match="needs one from v1"):
        upcaster("NoteAdded", 2)(lambda d: d)
    assert ("NoteAdded", 2) not in event_schema._UPCASTERS
