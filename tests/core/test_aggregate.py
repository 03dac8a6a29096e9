"""The Incident aggregate: every lifecycle transition, valid and invalid, and replay."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from incident_core import commands as cmd
from incident_core.aggregate import LIFECYCLE, decide
from incident_core.errors import InvalidTransition, ValidationError
from incident_core.events import PostmortemPublished, StatusChanged
from incident_core.model import IncidentRole, Severity, Status
from incident_core.state import IncidentState, apply, apply_all

T0 = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def declared(status: Status = Status.TRIGGERED) -> IncidentState:
    events = decide(None, cmd.DeclareIncident(org_id="o", incident_id="i", actor="u:a", occurred_at=T0,
                                              number=7, title="API down", severity=Severity.SEV2, status=status))
    state = apply_all(None, events)
    assert state is not None
    return state


def move(state: IncidentState, target: Status, minutes: int = 1) -> IncidentState:
    events = decide(state, cmd.ChangeStatus(org_id="o", incident_id="i", actor="u:a", occurred_at=at(minutes),
                                            status=target))
    return apply_all(state, events)  # type: ignore[return-value]


def at_status(status: Status) -> IncidentState:
    state = declared()
    for i, step in enumerate(LIFECYCLE[1:LIFECYCLE.index(status) + 1], start=1):
        state = move(state, step, i)
    return state


def test_declare_sets_number_title_severity_and_version() -> None:
    s = declared()
    assert (s.human_id, s.title, s.severity, s.status, s.version) == ("INC-7", "API down", Severity.SEV2,
                                                                      Status.TRIGGERED, 1)


@pytest.mark.parametrize("status", [Status.IDENTIFIED, Status.RESOLVED, Status.CLOSED])
def test_declare_refuses_a_late_starting_status(status: Status) -> None:
    with pytest.raises(InvalidTransition):
        decide(None, cmd.DeclareIncident(org_id="o", incident_id="i", actor="u", occurred_at=T0, number=1,
                                         title="x", status=status))


@pytest.mark.parametrize("title", ["", "   ", "x" * 151])
def test_declare_validates_title(title: str) -> None:
    with pytest.raises(ValidationError):
        decide(None, cmd.DeclareIncident(org_id="o", incident_id="i", actor="u", occurred_at=T0, number=1,
                                         title=title))


VALID = {
    (Status.TRIGGERED, t) for t in (Status.INVESTIGATING, Status.IDENTIFIED, Status.MITIGATED, Status.RESOLVED)
} | {
    (Status.INVESTIGATING, t) for t in (Status.IDENTIFIED, Status.MITIGATED, Status.RESOLVED)
} | {
    (Status.IDENTIFIED, t) for t in (Status.INVESTIGATING, Status.MITIGATED, Status.RESOLVED)
} | {
    (Status.MITIGATED, t) for t in (Status.INVESTIGATING, Status.IDENTIFIED, Status.RESOLVED)
} | {
    (Status.RESOLVED, t) for t in (Status.INVESTIGATING, Status.IDENTIFIED)
}


@pytest.mark.parametrize("current,target", list(itertools.product(LIFECYCLE, list(Status))))
def test_every_status_transition(current: Status, target: Status) -> None:
    state = at_status(current)
    if (current, target) in VALID:
        after = move(state, target, 30)
        assert after.status is target
        assert after.version == state.version + 1
        assert target.value in after.status_times
    else:
        with pytest.raises(InvalidTransition) as err:
            move(state, target, 30)
        assert "INC-7" in str(err.value)


def test_closed_only_through_published_postmortem_and_then_frozen() -> None:
    state = at_status(Status.RESOLVED)
    closed = apply_all(state, [
        PostmortemPublished(org_id="o", incident_id="i", version=state.version + 1, occurred_at=at(60),
                            actor="u:a", target="github", url="http://x/pr/1"),
        StatusChanged(org_id="o", incident_id="i", version=state.version + 2, occurred_at=at(60), actor="u:a",
                      from_status=Status.RESOLVED, to_status=Status.CLOSED),
    ])
    assert closed is not None and closed.status is Status.CLOSED
    for target in Status:
        with pytest.raises(InvalidTransition, match="closed"):
            move(closed, target, 61)
    with pytest.raises(InvalidTransition):
        decide(closed, cmd.AddNote(org_id="o", incident_id="i", actor="u", occurred_at=at(62), text="late"))


def test_severity_changes_both_ways_and_refuses_no_op() -> None:
    s = declared()
    for target in (Severity.SEV1, Severity.SEV4, Severity.SEV3):
        s = apply_all(s, decide(s, cmd.ChangeSeverity(org_id="o", incident_id="i", actor="u", occurred_at=at(1),
                                                      severity=target)))  # type: ignore[assignment]
        assert s.severity is target
    with pytest.raises(InvalidTransition, match="already SEV3"):
        decide(s, cmd.ChangeSeverity(org_id="o", incident_id="i", actor="u", occurred_at=at(2),
                                     severity=Severity.SEV3))


def test_severity_parse() -> None:
    assert [Severity.parse(x) for x in ("sev1", "2", 3, "SEV4")] == list(Severity)
    with pytest.raises(ValidationError, match="SEV1"):
        Severity.parse("5")


def test_roles_assign_and_replace() -> None:
    s = declared()
    for who in ("u:bob", "u:carol"):
        s = apply_all(s, decide(s, cmd.AssignRole(org_id="o", incident_id="i", actor="u", occurred_at=at(1),
                                                  role=IncidentRole.COMMANDER, assignee=who)))  # type: ignore
    assert s.commander == "u:carol"
    with pytest.raises(InvalidTransition, match="already the commander"):
        decide(s, cmd.AssignRole(org_id="o", incident_id="i", actor="u", occurred_at=at(2),
                                 role=IncidentRole.COMMANDER, assignee="u:carol"))
    assert IncidentRole.parse("comms") is IncidentRole.COMMUNICATIONS
    with pytest.raises(ValidationError):
        IncidentRole.parse("chef")


def test_pushpin_marks_a_key_moment_and_unpin_removes_it() -> None:
    s = declared()
    s = apply_all(s, decide(s, cmd.CaptureReaction(org_id="o", incident_id="i", actor="u", occurred_at=at(1),
                                                   platform="slack", message_id="m1", emoji="pushpin",
                                                   user="u")))  # type: ignore[assignment]
    assert s.key_moments == ("m1",)
    s = apply_all(s, decide(s, cmd.CaptureReaction(org_id="o", incident_id="i", actor="u", occurred_at=at(2),
                                                   platform="slack", message_id="m1", emoji="pushpin",
                                                   user="u", removed=True)))  # type: ignore[assignment]
    assert s.key_moments == ()


def test_signals_feed_keys_metrics_and_log_highlights() -> None:
    s = declared()
    for i in range(3):
        sig = {"kind": "log" if i else "alert", "title": "timeout talking to db", "service": "api",
               "correlation_keys": [f"fingerprint=f{i}", "service=api"], "values": [{"name": "p99", "value": i}]}
        s = apply_all(s, decide(s, cmd.AttachSignal(org_id="o", incident_id="i", actor="signal", occurred_at=at(i),
                                                    signal=sig, reason="r")))  # type: ignore[assignment]
    assert s.signal_count == 3 and s.services == ("api",)
    assert set(s.correlation_keys) == {"fingerprint=f0", "fingerprint=f1", "fingerprint=f2", "service=api"}
    assert [p[2] for p in s.metric_points] == [0.0, 1.0, 2.0]
    assert s.log_lines == {"timeout talking to db": 2}


def test_state_round_trips_through_json() -> None:
    s = at_status(Status.MITIGATED)
    assert IncidentState.from_dict(s.to_dict()) == s


def test_apply_rejects_events_before_declaration() -> None:
    e = StatusChanged(org_id="o", incident_id="i", version=1, occurred_at=T0, actor="u",
                      from_status=Status.TRIGGERED, to_status=Status.INVESTIGATING)
    with pytest.raises(ValueError):
        apply(None, e)
