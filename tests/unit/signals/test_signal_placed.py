"""Signal.placed: the copy intake and the webhook make of every signal equals what `replace` would build."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from handlers.signals import normalize
from incident_core.errors import ValidationError
from incident_core.raw_payloads import referencing
from incident_core.signals import RawRef, Signal

PAYLOAD = {"version": "4", "status": "firing", "groupKey": "{}:{alertname=\"Disk\"}", "receiver": "r",
           "alerts": [{"status": "firing", "labels": {"alertname": "Disk", "service": "db", "severity": "critical"},
                       "annotations": {"summary": "disk full"}, "startsAt": "2026-11-27T08:00:00Z"}]}


def _signal() -> Signal:
    return normalize("alertmanager", PAYLOAD, org_id="org-a", project_id=None,
                     received_at=datetime(2026, 11, 27, 8, 1, tzinfo=UTC))[0]


def _fields(signal: Signal) -> dict[str, object]:
    return dict(vars(signal))


def test_placing_the_org_and_project_equals_replace() -> None:
    signal = _signal()
    placed = signal.placed(org_id="org-b", project_id="p1")
    assert placed == replace(signal, org_id="org-b", project_id="p1")
    assert _fields(placed) == _fields(replace(signal, org_id="org-b", project_id="p1"))
    assert (signal.org_id, signal.project_id) == ("org-a", None)  # the original is untouched
    assert hash(placed) == hash(replace(signal, org_id="org-b", project_id="p1"))


def test_placing_the_raw_reference_equals_replace_and_keeps_the_raw_item_out_of_the_event() -> None:
    signal = _signal()
    ref = RawRef("p" * 40, "/alerts/0")
    placed = signal.placed(raw_ref=ref, payload=PAYLOAD)
    assert _fields(placed) == _fields(replace(signal, raw_ref=ref, payload=PAYLOAD))
    assert placed.to_dict()["raw_ref"] == {"payload": "p" * 40, "pointer": "/alerts/0"}
    assert "raw" not in placed.to_dict()
    [referenced] = referencing([signal], PAYLOAD)
    assert referenced.raw_ref is not None and referenced.raw_ref.pointer == "/alerts/0"
    assert referenced.payload is PAYLOAD and signal.raw_ref is None


def test_an_empty_org_is_refused_as_the_constructor_refuses_it() -> None:
    with pytest.raises(ValidationError):
        _signal().placed(org_id="", project_id=None)
    with pytest.raises(ValidationError):
        replace(_signal(), org_id="")
