"""decide(state, command) -> events: the Incident's rules, no I/O."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from incident_core import commands as cmd
from incident_core import events as ev
from incident_core.actions import ACTION_DECIDERS
from incident_core.all_clear import resolve_signal_events
from incident_core.decisions import clean as _clean
from incident_core.decisions import envelope as _envelope
from incident_core.errors import InvalidTransition, ValidationError
from incident_core.guidance_decisions import GUIDANCE_DECIDERS
from incident_core.model import Status
from incident_core.postmortem import POSTMORTEM_DECIDERS
from incident_core.recurrence_decisions import RECURRENCE_DECIDERS
from incident_core.state import IncidentState

LIFECYCLE = (Status.TRIGGERED, Status.INVESTIGATING, Status.IDENTIFIED, Status.MITIGATED, Status.RESOLVED)
MAX_TITLE = 150
MAX_TEXT = 4000
KEY_MOMENT_EMOJI = ("pushpin", "📌", "round_pushpin")


def decide(state: IncidentState | None, command: cmd.Command) -> list[ev.Event]:
    """Check the command against the current state and return the events it causes."""
    if isinstance(command, cmd.DeclareIncident):
        return _declare(state, command)
    if state is None:
        raise InvalidTransition("there is no such incident yet: declare it first")
    deciders: dict[type, Callable[[IncidentState, Any], list[ev.Event]]] = _DECIDERS
    decider = deciders.get(type(command))
    if decider is None:
        raise ValidationError(f"unsupported command {type(command).__name__}")
    return decider(state, command)


def check_transition(current: Status, target: Status, human_id: str) -> None:
    """Raise InvalidTransition with a sentence a responder understands."""
    if current is Status.CLOSED:
        raise InvalidTransition(
            f"{human_id} is closed: its postmortem was published. Declare a new incident if the problem is back."
        )
    if target is current:
        raise InvalidTransition(f"{human_id} is already {current.value}.")
    if target is Status.CLOSED:
        raise InvalidTransition(
            f"{human_id} closes by itself once its postmortem is published; resolve it and publish the postmortem."
        )
    if target is Status.TRIGGERED:
        raise InvalidTransition(
            f"{human_id} cannot go back to triggered; use investigating if the problem is back."
        )
    forward = LIFECYCLE.index(target) > LIFECYCLE.index(current)
    if not forward and target not in (Status.INVESTIGATING, Status.IDENTIFIED):
        raise InvalidTransition(
            f"{human_id} is {current.value}; it can move forward, or back to investigating or identified "
            f"if the problem returns, but not back to {target.value}."
        )


def _declare(state: IncidentState | None, c: cmd.DeclareIncident) -> list[ev.Event]:
    if state is not None:
        raise InvalidTransition(f"{state.human_id} already exists")
    if c.number < 1:
        raise ValidationError("incident number must be positive")
    if c.status not in (Status.TRIGGERED, Status.INVESTIGATING):
        raise InvalidTransition("a new incident starts as triggered or investigating")
    title = _clean(c.title, "the incident title", MAX_TITLE)
    return [ev.IncidentDeclared(
        **_envelope(None, c), number=c.number, title=title, severity=c.severity, status=c.status,
        project_id=c.project_id, source=c.source, commander=c.commander, summary=c.summary[:MAX_TEXT],
    )]


def _status(s: IncidentState, c: cmd.ChangeStatus) -> list[ev.Event]:
    check_transition(s.status, c.status, s.human_id)
    note = _clean(c.note, "the note", MAX_TEXT, required=False)
    return [ev.StatusChanged(**_envelope(s, c), from_status=s.status, to_status=c.status, note=note)]


def _severity(s: IncidentState, c: cmd.ChangeSeverity) -> list[ev.Event]:
    _require_open(s)
    if c.severity is s.severity:
        raise InvalidTransition(f"{s.human_id} is already {s.severity.value}.")
    return [ev.SeverityChanged(**_envelope(s, c), from_severity=s.severity, to_severity=c.severity,
                               reason=_clean(c.reason, "the reason", MAX_TEXT, required=False))]


def _role(s: IncidentState, c: cmd.AssignRole) -> list[ev.Event]:
    _require_not_closed(s)
    assignee = _clean(c.assignee, "the assignee", 200)
    previous = s.roles.get(c.role.value)
    if previous == assignee:
        raise InvalidTransition(f"{assignee} is already the {c.role.value} of {s.human_id}.")
    return [ev.RoleAssigned(**_envelope(s, c), role=c.role, assignee=assignee, previous=previous)]


def _rename(s: IncidentState, c: cmd.RenameIncident) -> list[ev.Event]:
    _require_not_closed(s)
    return [ev.TitleChanged(**_envelope(s, c), title=_clean(c.title, "the incident title", MAX_TITLE))]


def _note(s: IncidentState, c: cmd.AddNote) -> list[ev.Event]:
    _require_not_closed(s)
    return [ev.NoteAdded(**_envelope(s, c), text=_clean(c.text, "the note", MAX_TEXT))]


def _attach(s: IncidentState, c: cmd.AttachSignal) -> list[ev.Event]:
    _require_not_closed(s)
    return [ev.SignalAttached(**_envelope(s, c), signal=dict(c.signal), reason=c.reason, matched_key=c.matched_key)]


def _message(s: IncidentState, c: cmd.CaptureMessage) -> list[ev.Event]:
    return [ev.ChatMessageCaptured(**_envelope(s, c), platform=c.platform, channel=c.channel,
                                   message_id=c.message_id, author=c.author, text=c.text[:MAX_TEXT * 10],
                                   thread_id=c.thread_id)]


def _edit(s: IncidentState, c: cmd.CaptureEdit) -> list[ev.Event]:
    return [ev.ChatMessageEdited(**_envelope(s, c), platform=c.platform, channel=c.channel,
                                 message_id=c.message_id, text=c.text[:MAX_TEXT * 10])]


def _deletion(s: IncidentState, c: cmd.CaptureDeletion) -> list[ev.Event]:
    return [ev.ChatMessageDeleted(**_envelope(s, c), platform=c.platform, channel=c.channel,
                                  message_id=c.message_id)]


def _reaction(s: IncidentState, c: cmd.CaptureReaction) -> list[ev.Event]:
    if c.removed:
        return [ev.ReactionRemoved(**_envelope(s, c), platform=c.platform, message_id=c.message_id,
                                   emoji=c.emoji, user=c.user)]
    return [ev.ReactionAdded(**_envelope(s, c), platform=c.platform, message_id=c.message_id, emoji=c.emoji,
                             user=c.user, key_moment=c.emoji in KEY_MOMENT_EMOJI)]


def _require_open(s: IncidentState) -> None:
    if not s.status.is_open:
        raise InvalidTransition(f"{s.human_id} is {s.status.value}; reopen it (status investigating) first.")


def _require_not_closed(s: IncidentState) -> None:
    if s.status is Status.CLOSED:
        raise InvalidTransition(f"{s.human_id} is closed; its record can no longer change.")


_DECIDERS: dict[type, Callable[[IncidentState, Any], list[ev.Event]]] = {
    cmd.ChangeStatus: _status,
    cmd.ChangeSeverity: _severity,
    cmd.AssignRole: _role,
    cmd.RenameIncident: _rename,
    cmd.AddNote: _note,
    cmd.AttachSignal: _attach,
    cmd.ResolveSignal: resolve_signal_events,
    cmd.CaptureMessage: _message,
    cmd.CaptureEdit: _edit,
    cmd.CaptureDeletion: _deletion,
    cmd.CaptureReaction: _reaction,
    cmd.CaptureJoin: lambda s, c: [ev.MemberJoined(**_envelope(s, c), platform=c.platform, user=c.user)],
    cmd.CaptureInteraction: lambda s, c: [ev.InteractionCaptured(
        **_envelope(s, c), platform=c.platform, kind=c.kind, name=c.name, text=c.text[:MAX_TEXT])],
    cmd.RecordRoom: lambda s, c: [ev.ChatRoomOpened(
        **_envelope(s, c), platform=c.platform, room_id=c.room_id, room_name=c.room_name,
        message_id=c.message_id)],
    **ACTION_DECIDERS,
    **POSTMORTEM_DECIDERS,
    **GUIDANCE_DECIDERS,
    **RECURRENCE_DECIDERS,
}
