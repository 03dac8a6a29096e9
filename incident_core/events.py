"""Domain events: frozen dataclasses, past-tense names, one registry for (de)serialization."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from incident_core.event_schema import FIRST_VERSION, current_version, upcast
from incident_core.model import ActionGate, IncidentRole, Severity, Status

EVENT_TYPES: dict[str, type[Event]] = {}

ENVELOPE_FIELDS = ("org_id", "incident_id", "version", "occurred_at", "actor", "meta")


@dataclass(frozen=True, kw_only=True)
class Event:
    """Envelope every event carries; subclasses add their payload fields."""

    org_id: str
    incident_id: str
    version: int
    occurred_at: datetime
    actor: str
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    type_name: ClassVar[str] = "Event"
    schema_version: ClassVar[int] = FIRST_VERSION  # of the payload; see incident_core/event_schema.py

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.type_name = cls.__name__
        cls.schema_version = current_version(cls.__name__)
        EVENT_TYPES[cls.__name__] = cls

    def payload(self) -> dict[str, Any]:
        """The event's own fields (no envelope), JSON-friendly."""
        names = _PAYLOAD_FIELDS.get(type(self))
        if names is None:  # once per event type: `dataclasses.fields` per call was ~5 % of grouped ingest
            names = _PAYLOAD_FIELDS[type(self)] = tuple(
                f.name for f in dataclasses.fields(self) if f.name not in ENVELOPE_FIELDS)
        return {name: _to_json(getattr(self, name)) for name in names}


_PAYLOAD_FIELDS: dict[type[Event], tuple[str, ...]] = {}  # event type -> its payload's field names, in order


def event_from_record(
    *,
    type_name: str,
    data: dict[str, Any],
    org_id: str,
    incident_id: str,
    version: int,
    occurred_at: datetime,
    actor: str,
    meta: dict[str, Any] | None = None,
    schema_version: int = FIRST_VERSION,
) -> Event:
    """Rebuild an event from a stored record, upcast from its schema version; unknown types raise KeyError."""
    cls = EVENT_TYPES[type_name]
    data = upcast(type_name, schema_version, data)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name in ENVELOPE_FIELDS or f.name not in data:
            continue
        kwargs[f.name] = _from_json(f.type, data[f.name])
    return cls(
        org_id=org_id,
        incident_id=incident_id,
        version=version,
        occurred_at=occurred_at,
        actor=actor,
        meta=dict(meta or {}),
        **kwargs,
    )


def _to_json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return [_to_json(v) for v in value]
    return value


_ENUMS: dict[str, type[Status] | type[Severity] | type[IncidentRole] | type[ActionGate]] = {
    "Status": Status, "Severity": Severity, "IncidentRole": IncidentRole,
    "Status | None": Status, "Severity | None": Severity, "ActionGate | None": ActionGate}


def _from_json(annotation: Any, value: Any) -> Any:
    ann = str(annotation)
    if value is None:
        return None
    if ann in _ENUMS:
        return _ENUMS[ann](value)
    if ann.startswith("datetime"):
        return datetime.fromisoformat(value)
    if ann.startswith("tuple"):
        return tuple(value)
    return value


# --- lifecycle -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class IncidentDeclared(Event):
    number: int
    title: str
    severity: Severity
    status: Status
    project_id: str | None = None
    source: str = "chat"
    commander: str | None = None
    summary: str = ""


@dataclass(frozen=True, kw_only=True)
class StatusChanged(Event):
    from_status: Status
    to_status: Status
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class SeverityChanged(Event):
    from_severity: Severity
    to_severity: Severity
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class RoleAssigned(Event):
    role: IncidentRole
    assignee: str
    previous: str | None = None


@dataclass(frozen=True, kw_only=True)
class TitleChanged(Event):
    title: str


@dataclass(frozen=True, kw_only=True)
class NoteAdded(Event):
    text: str


# --- signals ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SignalAttached(Event):
    """A normalized signal joined the incident; `signal` is Signal.to_dict() without raw."""

    signal: dict[str, Any]
    reason: str
    matched_key: str | None = None


@dataclass(frozen=True, kw_only=True)
class SignalResolved(Event):
    fingerprint: str
    title: str
    reason: str
    ended_at: str | None = None


@dataclass(frozen=True, kw_only=True)
class AllClearReached(Event):
    """Every firing signal of the incident has resolved (or its PagerDuty incident resolved): said once."""

    reason: str
    resolved: int = 0  # how many signals had fired and resolved


# --- chat capture ----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ChatMessageCaptured(Event):
    platform: str
    channel: str
    message_id: str
    author: str
    text: str
    thread_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class ChatMessageEdited(Event):
    platform: str
    channel: str
    message_id: str
    text: str


@dataclass(frozen=True, kw_only=True)
class ChatMessageDeleted(Event):
    platform: str
    channel: str
    message_id: str


@dataclass(frozen=True, kw_only=True)
class ReactionAdded(Event):
    platform: str
    message_id: str
    emoji: str
    user: str
    key_moment: bool = False


@dataclass(frozen=True, kw_only=True)
class ReactionRemoved(Event):
    platform: str
    message_id: str
    emoji: str
    user: str


@dataclass(frozen=True, kw_only=True)
class MemberJoined(Event):
    platform: str
    user: str


@dataclass(frozen=True, kw_only=True)
class InteractionCaptured(Event):
    """A slash command or button click, recorded as typed by the person."""

    platform: str
    kind: str
    name: str
    text: str = ""


@dataclass(frozen=True, kw_only=True)
class ChatRoomOpened(Event):
    platform: str
    room_id: str
    room_name: str
    message_id: str | None = None


# --- guidance and actions --------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class GuidanceOffered(Event):
    """The bot offered next steps (or said nothing relevant was found); `covers` are the signal kinds seen."""

    batch_id: str
    trigger: str
    covers: tuple[str, ...] = ()
    suggestion_ids: tuple[str, ...] = ()
    nothing_found: bool = False
    message: str = ""
    query: str = ""
    engine: str = ""
    questions: tuple[dict[str, Any], ...] = ()
    seen_before: tuple[dict[str, Any], ...] = ()
    retrieved: int = 0


@dataclass(frozen=True, kw_only=True)
class SuggestionPosted(Event):
    """One cited next step; `command` is verbatim from `source`, `action`/`params` make it runnable."""

    suggestion_id: str
    title: str
    why: str
    source: str
    risk: str
    command: str | None = None
    confidence: float = 0.0
    batch_id: str = ""
    risk_reason: str = ""
    action: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    reversible: bool = False
    undo: str | None = None
    quote: str = ""
    quote_by: str = "runbook"
    source_url: str = ""


@dataclass(frozen=True, kw_only=True)
class SuggestionFeedbackGiven(Event):
    suggestion_id: str
    helpful: bool
    user: str
    source: str = ""


@dataclass(frozen=True, kw_only=True)
class ActionRequested(Event):
    """Someone asked to run a playbook action; `awaiting` is the gate it waits behind, None when it runs now.

    Schema v2 (v1 said "runs now" with an empty string; see incident_core/event_schema.py)."""

    action_id: str
    action: str
    risk: str
    command: str | None = None
    reversible: bool = False
    undo: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    summary: str = ""
    reason: str = ""
    source: str | None = None
    confirmed: bool = False
    awaiting: ActionGate | None = None
    suggestion_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class ActionApproved(Event):
    """A commander approved a high-risk action, or (`confirmation`) the requester confirmed a medium one."""

    action_id: str
    approver: str
    confirmation: bool = False
    summary: str = ""
    risk: str = ""


@dataclass(frozen=True, kw_only=True)
class ActionDenied(Event):
    action_id: str
    approver: str
    reason: str = ""
    summary: str = ""
    risk: str = ""


@dataclass(frozen=True, kw_only=True)
class ActionExecuted(Event):
    action_id: str
    succeeded: bool
    output: str
    summary: str = ""
    risk: str = ""
    approver: str | None = None


@dataclass(frozen=True, kw_only=True)
class ActionUndone(Event):
    action_id: str
    output: str
    succeeded: bool = True
    summary: str = ""
    undo: str | None = None


# --- postmortem ------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PostmortemDrafted(Event):
    """A draft from the timeline; `source` is "deterministic" or "llm" (narrative rephrased, facts checked)."""

    sections: dict[str, str]
    markdown: str
    title: str = ""
    action_items: tuple[Mapping[str, Any], ...] = ()  # postmortem items (state_models.PostmortemItem)
    key_moments: tuple[int, ...] = ()
    source: str = "deterministic"
    notes: str = ""


@dataclass(frozen=True, kw_only=True)
class PostmortemEdited(Event):
    """One section changed; "action_items" and "key_moments" carry their rows in the fields below."""

    section: str
    text: str
    action_items: tuple[Mapping[str, Any], ...] = ()  # postmortem items (state_models.PostmortemItem)
    key_moments: tuple[int, ...] = ()


@dataclass(frozen=True, kw_only=True)
class PostmortemSubmitted(Event):
    warnings: int = 0


@dataclass(frozen=True, kw_only=True)
class PostmortemApproved(Event):
    approver: str
    targets: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class PostmortemPublished(Event):
    target: str
    url: str
    ref: str = ""


@dataclass(frozen=True, kw_only=True)
class SignalIgnored(Event):
    """A signal that joined no incident, recorded in its own stream (`sig-…`) with the reason."""

    signal: dict[str, Any]
    reason: str


@dataclass(frozen=True, kw_only=True)
class RecurrenceNoted(Event):
    """The incident matches a recurring pattern of its org and project: earlier incidents sharing `key`."""

    key: str
    label: str
    window_days: int
    prior: tuple[str, ...] = ()  # human ids of the earlier incidents, oldest first
    postmortems: tuple[dict[str, Any], ...] = ()  # {"incident": "INC-7", "path": "postmortems/….md"}
    items_open: int = 0
    items_done: int = 0
    items_unknown: int = 0
    signature: str = ""  # the pattern keys this was computed for (see incident_core/recurrence.py)


@dataclass(frozen=True, kw_only=True)
class RecurrenceWithdrawn(Event):
    """The recorded match no longer holds (the org narrowed its window): `prior` no longer count, and why."""

    key: str
    label: str
    window_days: int  # the window of the check that withdrew it
    previous_window_days: int  # the window the match was recorded with
    prior: tuple[str, ...] = ()  # the earlier incidents the withdrawn match named
    reason: str = ""
    signature: str = ""


SIGNAL_STREAM_PREFIX = "sig-"


def is_incident_stream(stream_id: str) -> bool:
    """Incident streams are ids; signal decision logs are `sig-…` streams."""
    return not stream_id.startswith(SIGNAL_STREAM_PREFIX)
