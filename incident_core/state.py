"""The Incident aggregate's current state and `apply`, the pure fold over its events."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any

from incident_core import events as ev
from incident_core.model import ActionGate, Severity, Status
from incident_core.state_models import (
    ActionRecord,
    ActionStatus,
    LastOffer,
    PostmortemItem,
    PostmortemRecord,
    PostmortemStatus,
    PriorPostmortem,
    Recurrence,
    Room,
    SuggestionRecord,
    postmortem_item,
)

MAX_KEYS = 200
MAX_RECENT_SIGNALS = 10
MAX_METRIC_POINTS = 60
MAX_LOG_LINES = 20
MAX_SUGGESTIONS = 60
MAX_FIRING = 500  # past this the oldest are forgotten, so an all clear may come early for huge incidents


@dataclass(frozen=True)
class IncidentState:
    """Everything a reader needs about one incident, rebuilt from its events alone."""

    incident_id: str
    org_id: str
    project_id: str | None
    number: int
    title: str
    status: Status
    severity: Severity
    created_at: datetime
    updated_at: datetime
    version: int
    declared_by: str
    source: str = "chat"
    summary: str = ""
    roles: dict[str, str] = field(default_factory=dict)
    status_times: dict[str, str] = field(default_factory=dict)
    signal_count: int = 0
    correlation_keys: dict[str, str] = field(default_factory=dict)
    services: tuple[str, ...] = ()
    last_signal_at: str | None = None
    first_signal_at: str | None = None
    recent_signals: tuple[dict[str, Any], ...] = ()
    metric_points: tuple[tuple[str, str, float], ...] = ()
    log_lines: dict[str, int] = field(default_factory=dict)
    actions: dict[str, ActionRecord] = field(default_factory=dict)
    suggestion_count: int = 0
    suggestions: dict[str, SuggestionRecord] = field(default_factory=dict)
    guidance_keys: tuple[str, ...] = ()
    last_offer: LastOffer | None = None
    key_moments: tuple[str, ...] = ()
    notes_count: int = 0
    messages_count: int = 0
    rooms: dict[str, Room] = field(default_factory=dict)  # platform → room
    postmortem: PostmortemRecord = field(default_factory=PostmortemRecord)
    recurrence: Recurrence | None = None
    firing: tuple[str, ...] = ()  # fingerprints of the alert and metric signals still firing
    fired: int = 0  # distinct signals that have fired (and not been counted again while still firing)
    all_clear_at: str | None = None
    all_clear_reason: str = ""

    @property
    def human_id(self) -> str:
        return f"INC-{self.number}"

    @property
    def commander(self) -> str | None:
        return self.roles.get("commander")

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form stored in the projection; the same shape as before the parts were typed."""
        out = {name: getattr(self, name) for name in _FIELD_NAMES}
        out["status"] = self.status.value
        out["severity"] = self.severity.value
        out["created_at"] = self.created_at.isoformat()
        out["updated_at"] = self.updated_at.isoformat()
        out["services"] = list(self.services)
        out["recent_signals"] = list(self.recent_signals)
        out["metric_points"] = [list(p) for p in self.metric_points]
        out["key_moments"] = list(self.key_moments)
        out["guidance_keys"] = list(self.guidance_keys)
        out["firing"] = list(self.firing)
        out["rooms"] = {platform: room.to_dict() for platform, room in self.rooms.items()}
        out["actions"] = {action_id: a.to_dict() for action_id, a in self.actions.items()}
        out["suggestions"] = {sid: s.to_dict() for sid, s in self.suggestions.items()}
        out["postmortem"] = self.postmortem.to_dict()
        out["recurrence"] = self.recurrence.to_dict() if self.recurrence else {}
        out["last_offer"] = self.last_offer.to_dict() if self.last_offer else {}
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IncidentState:
        """Inverse of to_dict; reads every older stored shape (missing keys take their defaults)."""
        d = {k: v for k, v in data.items() if k in _FIELDS}
        d["status"] = Status(d["status"])
        d["severity"] = Severity(d["severity"])
        d["created_at"] = datetime.fromisoformat(d["created_at"])
        d["updated_at"] = datetime.fromisoformat(d["updated_at"])
        d["services"] = tuple(d.get("services", ()))
        d["recent_signals"] = tuple(d.get("recent_signals", ()))
        d["metric_points"] = tuple(tuple(p) for p in d.get("metric_points", ()))
        d["key_moments"] = tuple(d.get("key_moments", ()))
        d["guidance_keys"] = tuple(d.get("guidance_keys", ()))
        d["firing"] = tuple(d.get("firing", ()))
        d["rooms"] = {str(p): Room.from_dict(r) for p, r in (d.get("rooms") or {}).items()}
        d["actions"] = {str(i): ActionRecord.from_dict(a) for i, a in (d.get("actions") or {}).items()}
        d["suggestions"] = {str(i): SuggestionRecord.from_dict(x) for i, x in (d.get("suggestions") or {}).items()}
        d["postmortem"] = PostmortemRecord.from_dict(d.get("postmortem"))
        d["recurrence"] = Recurrence.from_dict(d.get("recurrence"))
        d["last_offer"] = LastOffer.from_dict(d.get("last_offer"))
        return cls(**d)


def apply(state: IncidentState | None, event: ev.Event) -> IncidentState:
    """Fold one event into the state; pure and total over every event type."""
    if isinstance(event, ev.IncidentDeclared):
        return _declared(event)
    if state is None:
        raise ValueError(f"{event.type_name} before IncidentDeclared in stream {event.incident_id}")
    handler = _APPLIERS.get(type(event))
    changes = handler(state, event) if handler else {}
    return _evolve(state, {**changes, "version": event.version, "updated_at": event.occurred_at})


def _evolve(state: IncidentState, changes: dict[str, Any]) -> IncidentState:
    """`replace(state, **changes)` without its per-field calls (IncidentState has no __post_init__ to run):
    the fields are copied, never what is remembered on the object (patterns' alert keys belong to `state`)."""
    if not changes.keys() <= _FIELDS:
        raise TypeError(f"IncidentState has no field {sorted(changes.keys() - _FIELDS)[0]!r}")
    current = state.__dict__
    copy = object.__new__(IncidentState)
    if len(current) == len(_FIELD_NAMES):  # the fields alone (each one is always set): copied whole, in C
        copy.__dict__.update(current, **changes)
    else:
        copy.__dict__.update({name: current[name] for name in _FIELD_NAMES}, **changes)
    return copy


def apply_all(state: IncidentState | None, events: list[ev.Event]) -> IncidentState | None:
    """Fold a sequence of events."""
    for event in events:
        state = apply(state, event)
    return state


def _declared(e: ev.IncidentDeclared) -> IncidentState:
    roles = {"commander": e.commander} if e.commander else {}
    return IncidentState(
        incident_id=e.incident_id, org_id=e.org_id, project_id=e.project_id, number=e.number,
        title=e.title, status=e.status, severity=e.severity, created_at=e.occurred_at,
        updated_at=e.occurred_at, version=e.version, declared_by=e.actor, source=e.source,
        summary=e.summary, roles=roles, status_times={e.status.value: e.occurred_at.isoformat()},
    )


def _status(s: IncidentState, e: ev.StatusChanged) -> dict[str, Any]:
    times = dict(s.status_times)
    times.setdefault(e.to_status.value, e.occurred_at.isoformat())
    return {"status": e.to_status, "status_times": times}


def _role(s: IncidentState, e: ev.RoleAssigned) -> dict[str, Any]:
    return {"roles": {**s.roles, e.role.value: e.assignee}}


def _signal(s: IncidentState, e: ev.SignalAttached) -> dict[str, Any]:
    sig = e.signal
    occurred = e.occurred_at.isoformat()
    seen = sig.get("starts_at") or occurred
    keys = dict(s.correlation_keys)
    keys.update(dict.fromkeys(sig.get("correlation_keys", ()), occurred))
    if len(keys) > MAX_KEYS:
        # Evict by time only (keep every key seen at or after the MAX_KEYS-th newest moment) so the
        # incident_keys projection can mirror it with one range delete. The moments sorted alone (no key
        # function: compared in C), then the keys before the cutoff deleted in place (the rest keep their order).
        moments = sorted(keys.values())
        cutoff = moments[-MAX_KEYS]
        if moments[0] < cutoff:
            for key in [key for key, seen in keys.items() if seen < cutoff]:
                del keys[key]
    services = s.services
    if sig.get("service") and sig["service"] not in services:
        services = (*services, sig["service"])
    brief = {k: sig.get(k) for k in ("source", "kind", "status", "severity", "title", "service", "fingerprint")}
    brief["at"] = occurred
    points = s.metric_points + tuple((seen, str(v["name"]), float(v["value"])) for v in sig.get("values", ()))
    logs = s.log_lines
    line = log_line(sig)
    if line is not None:
        logs = {**logs, line: logs.get(line, 0) + 1}
        if len(logs) > MAX_LOG_LINES:
            logs = dict(sorted(logs.items(), key=lambda kv: -kv[1])[:MAX_LOG_LINES])
    firing, fired, clear = s.firing, s.fired, s.all_clear_at
    # Only alerts and metrics resolve; a log record or a change is a moment, never "still firing".
    if sig.get("kind", "alert") in ("alert", "metric") and sig.get("status", "firing") == "firing" \
            and sig.get("fingerprint"):
        clear = None  # it fired again: a later all clear is news again
        if sig["fingerprint"] not in firing:
            firing, fired = (*firing, str(sig["fingerprint"]))[-MAX_FIRING:], fired + 1
    return {
        "firing": firing,
        "fired": fired,
        "all_clear_at": clear,
        "signal_count": s.signal_count + 1,
        "correlation_keys": keys,
        "services": services,
        "last_signal_at": occurred,
        "first_signal_at": s.first_signal_at or seen,
        "recent_signals": (s.recent_signals + (brief,))[-MAX_RECENT_SIGNALS:],
        "metric_points": points[-MAX_METRIC_POINTS:],
        "log_lines": logs,
    }


def log_line(signal: dict[str, Any]) -> str | None:
    """The line a log signal is counted under in `log_lines`; None for other kinds."""
    return (signal.get("title") or "")[:200] if signal.get("kind") == "log" else None


def _signal_resolved(s: IncidentState, e: ev.SignalResolved) -> dict[str, Any]:
    recent = tuple(
        {**r, "status": "resolved"} if r.get("fingerprint") == e.fingerprint else r for r in s.recent_signals
    )
    return {"recent_signals": recent, "firing": tuple(f for f in s.firing if f != e.fingerprint)}


def _reaction(s: IncidentState, e: ev.ReactionAdded) -> dict[str, Any]:
    if e.key_moment and e.message_id not in s.key_moments:
        return {"key_moments": (*s.key_moments, e.message_id)}
    return {}


def _reaction_removed(s: IncidentState, e: ev.ReactionRemoved) -> dict[str, Any]:
    if e.emoji in ("pushpin", "📌") and e.message_id in s.key_moments:
        return {"key_moments": tuple(m for m in s.key_moments if m != e.message_id)}
    return {}


def _action(s: IncidentState, action_id: str, **changes: Any) -> dict[str, Any]:
    current = replace(s.actions.get(action_id) or ActionRecord(), **changes)
    return {"actions": {**s.actions, action_id: current}}


_WAITING_FOR = {ActionGate.CONFIRMATION: ActionStatus.AWAITING_CONFIRMATION,
                ActionGate.APPROVAL: ActionStatus.AWAITING_APPROVAL}


def _action_requested(s: IncidentState, e: ev.ActionRequested) -> dict[str, Any]:
    # "requested" means ready to run; medium/high wait in "awaiting_confirmation"/"awaiting_approval".
    status = _WAITING_FOR[e.awaiting] if e.awaiting else ActionStatus.REQUESTED
    return _action(s, e.action_id, action=e.action, risk=e.risk, command=e.command, status=status,
                   requested_by=e.actor, requested_at=e.occurred_at.isoformat(), reversible=e.reversible,
                   undo=e.undo, params=dict(e.params), summary=e.summary or e.action, reason=e.reason,
                   source=e.source, suggestion_id=e.suggestion_id)


def _action_approved(s: IncidentState, e: ev.ActionApproved) -> dict[str, Any]:
    if e.confirmation:
        return _action(s, e.action_id, status=ActionStatus.CONFIRMED, confirmed_by=e.approver)
    return _action(s, e.action_id, status=ActionStatus.APPROVED, approver=e.approver)


def _action_executed(s: IncidentState, e: ev.ActionExecuted) -> dict[str, Any]:
    status = ActionStatus.EXECUTED if e.succeeded else ActionStatus.FAILED
    return _action(s, e.action_id, status=status, output=e.output[:2000],
                   executed_by=e.actor, executed_at=e.occurred_at.isoformat())


def _action_undone(s: IncidentState, e: ev.ActionUndone) -> dict[str, Any]:
    return _action(s, e.action_id, status=ActionStatus.UNDONE if e.succeeded else ActionStatus.UNDO_FAILED,
                   undo_output=e.output[:2000], undone_by=e.actor, undone_at=e.occurred_at.isoformat())


def offer_digest(e: ev.GuidanceOffered) -> str:
    """What an offer said besides its steps (questions, "seen before", nothing-found message), as a short digest."""
    said = [e.nothing_found, e.message, list(e.questions), list(e.seen_before)]
    return hashlib.sha256(json.dumps(said, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _guidance_offered(s: IncidentState, e: ev.GuidanceOffered) -> dict[str, Any]:
    return {"guidance_keys": tuple(dict.fromkeys((*s.guidance_keys, *e.covers))),
            "last_offer": LastOffer(batch_id=e.batch_id, at=e.occurred_at.isoformat(), digest=offer_digest(e),
                                    suggestion_ids=tuple(e.suggestion_ids))}


def _suggestion_posted(s: IncidentState, e: ev.SuggestionPosted) -> dict[str, Any]:
    entry = SuggestionRecord(title=e.title, why=e.why, source=e.source, risk=e.risk, risk_reason=e.risk_reason,
                             command=e.command, action=e.action, params=dict(e.params), reversible=e.reversible,
                             undo=e.undo, confidence=e.confidence, batch_id=e.batch_id, seq=s.suggestion_count + 1)
    # The newest by number, not by the mapping's order: PostgreSQL's jsonb keeps no key order (older records
    # without a number count as oldest).
    kept = dict(sorted(s.suggestions.items(), key=lambda item: item[1].seq)[-(MAX_SUGGESTIONS - 1):])
    return {"suggestion_count": s.suggestion_count + 1, "suggestions": {**kept, e.suggestion_id: entry}}


def _suggestion_feedback(s: IncidentState, e: ev.SuggestionFeedbackGiven) -> dict[str, Any]:
    if e.suggestion_id not in s.suggestions:
        return {}
    entry = s.suggestions[e.suggestion_id]
    entry = replace(entry, votes={**entry.votes, e.user: e.helpful})
    return {"suggestions": {**s.suggestions, e.suggestion_id: entry}}


def _postmortem(s: IncidentState, **changes: Any) -> dict[str, Any]:
    return {"postmortem": replace(s.postmortem, **changes)}


def _items(items: tuple[Mapping[str, Any], ...]) -> tuple[PostmortemItem, ...]:
    return tuple(postmortem_item(i, n) for n, i in enumerate(items))


def _pm_drafted(s: IncidentState, e: ev.PostmortemDrafted) -> dict[str, Any]:
    return _postmortem(s, status=PostmortemStatus.DRAFT, sections=dict(e.sections), title=e.title,
                       action_items=_items(e.action_items), source=e.source, notes=e.notes,
                       key_moments=tuple(e.key_moments),
                       drafted_at=e.occurred_at.isoformat(), drafted_by=e.actor,
                       last_activity_at=e.occurred_at.isoformat())


def _pm_edited(s: IncidentState, e: ev.PostmortemEdited) -> dict[str, Any]:
    at = e.occurred_at.isoformat()
    if e.section == "key_moments":
        return _postmortem(s, key_moments=tuple(e.key_moments), reviewed_by=e.actor,
                           status=s.postmortem.status or PostmortemStatus.REVIEWING, last_activity_at=at)
    if e.section == "action_items":
        return _postmortem(s, action_items=_items(e.action_items), status=PostmortemStatus.DRAFT,
                           last_activity_at=at)
    sections = {**s.postmortem.sections, e.section: e.text}
    return _postmortem(s, sections=sections, status=PostmortemStatus.DRAFT, last_activity_at=at)


def _pm_published(s: IncidentState, e: ev.PostmortemPublished) -> dict[str, Any]:
    published = {**s.postmortem.published, e.target: e.url}
    done = set(s.postmortem.targets) <= set(published)
    return _postmortem(s, published=published,
                       status=PostmortemStatus.PUBLISHED if done else PostmortemStatus.PUBLISHING)


def _room_opened(s: IncidentState, e: ev.ChatRoomOpened) -> dict[str, Any]:
    return {"rooms": {**s.rooms, e.platform: Room(room_id=e.room_id, name=e.room_name, message_id=e.message_id)}}


def _recurrence(s: IncidentState, e: ev.RecurrenceNoted) -> dict[str, Any]:
    return {"recurrence": Recurrence(
        key=e.key, label=e.label, window_days=e.window_days, prior=tuple(e.prior),
        postmortems=tuple(PriorPostmortem(incident=str(p.get("incident")), path=str(p.get("path") or ""))
                          for p in e.postmortems),
        items_open=e.items_open, items_done=e.items_done, items_unknown=e.items_unknown, signature=e.signature,
        noted_at=e.occurred_at.isoformat())}


def _recurrence_withdrawn(s: IncidentState, e: ev.RecurrenceWithdrawn) -> dict[str, Any]:
    return {"recurrence": Recurrence(key=e.key, label=e.label, window_days=e.window_days, signature=e.signature,
                                     noted_at=e.occurred_at.isoformat(), withdrawn=tuple(e.prior),
                                     withdrawn_reason=e.reason)}


_APPLIERS: dict[type[ev.Event], Callable[[IncidentState, Any], dict[str, Any]]] = {
    ev.StatusChanged: _status,
    ev.SeverityChanged: lambda s, e: {"severity": e.to_severity},
    ev.RoleAssigned: _role,
    ev.TitleChanged: lambda s, e: {"title": e.title},
    ev.NoteAdded: lambda s, e: {"notes_count": s.notes_count + 1},
    ev.SignalAttached: _signal,
    ev.SignalResolved: _signal_resolved,
    ev.AllClearReached: lambda s, e: {"all_clear_at": e.occurred_at.isoformat(), "all_clear_reason": e.reason},
    ev.ChatMessageCaptured: lambda s, e: {"messages_count": s.messages_count + 1},
    ev.ReactionAdded: _reaction,
    ev.ReactionRemoved: _reaction_removed,
    ev.ChatRoomOpened: _room_opened,
    ev.GuidanceOffered: _guidance_offered,
    ev.SuggestionPosted: _suggestion_posted,
    ev.SuggestionFeedbackGiven: _suggestion_feedback,
    ev.ActionRequested: _action_requested,
    ev.ActionApproved: _action_approved,
    ev.ActionDenied: lambda s, e: _action(s, e.action_id, status=ActionStatus.DENIED, denied_by=e.approver,
                                          deny_reason=e.reason),
    ev.ActionExecuted: _action_executed,
    ev.ActionUndone: _action_undone,
    ev.PostmortemDrafted: _pm_drafted,
    ev.PostmortemEdited: _pm_edited,
    ev.PostmortemSubmitted: lambda s, e: _postmortem(s, status=PostmortemStatus.SUBMITTED, submitted_by=e.actor,
                                                     last_activity_at=e.occurred_at.isoformat()),
    ev.PostmortemApproved: lambda s, e: _postmortem(s, status=PostmortemStatus.APPROVED, approver=e.approver,
                                                    targets=tuple(e.targets), approved_at=e.occurred_at.isoformat()),
    ev.PostmortemPublished: _pm_published,
    ev.RecurrenceNoted: _recurrence,
    ev.RecurrenceWithdrawn: _recurrence_withdrawn,
}
_FIELD_NAMES = tuple(f.name for f in fields(IncidentState))  # in declaration order (dataclasses.fields is slow)
_FIELDS = frozenset(_FIELD_NAMES)
