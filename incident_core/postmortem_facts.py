"""What the timeline says happened, gathered once for the draft: every fact keeps its event version."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from incident_core import events as ev
from incident_core.model import Status
from incident_core.postmortem_check import defuse
from incident_core.state import IncidentState
from incident_core.timeline import describe, short_actor
from incident_core.warroom import humanize

MOMENT_TYPES = (ev.IncidentDeclared, ev.StatusChanged, ev.SeverityChanged, ev.NoteAdded, ev.SignalResolved,
                ev.ActionExecuted, ev.ActionUndone, ev.ActionDenied)


@dataclass(frozen=True)
class Pin:
    """A 📌 key-moment message: the message event, its latest text and the pinning reaction."""

    message: ev.ChatMessageCaptured
    text: str
    pin_version: int


@dataclass
class Facts:
    """The events of one incident sorted by kind, with the helpers the draft sections use."""

    state: IncidentState
    events: list[ev.Event]
    declared: ev.IncidentDeclared
    by_version: dict[int, ev.Event] = field(default_factory=dict)
    statuses: list[ev.StatusChanged] = field(default_factory=list)
    severities: list[ev.SeverityChanged] = field(default_factory=list)
    roles: list[ev.RoleAssigned] = field(default_factory=list)
    notes: list[ev.NoteAdded] = field(default_factory=list)
    signals: list[ev.SignalAttached] = field(default_factory=list)
    signals_resolved: list[ev.SignalResolved] = field(default_factory=list)
    pins: list[Pin] = field(default_factory=list)
    actions: list[ev.Event] = field(default_factory=list)
    suggestions: list[ev.SuggestionPosted] = field(default_factory=list)
    helpful: list[ev.SuggestionFeedbackGiven] = field(default_factory=list)
    rooms: list[ev.ChatRoomOpened] = field(default_factory=list)

    def reached(self, status: Status, *, last: bool = False) -> ev.StatusChanged | None:
        """The first (or last) change into `status`."""
        hits = [s for s in self.statuses if s.to_status is status]
        return (hits[-1] if last else hits[0]) if hits else None

    def first_signal(self) -> ev.SignalAttached | None:
        return self.signals[0] if self.signals else None

    def signal_time(self, e: ev.SignalAttached) -> datetime:
        """When the signal started (its own starts_at), falling back to when it was attached."""
        raw = e.signal.get("starts_at")
        try:
            started = datetime.fromisoformat(str(raw)) if raw else e.occurred_at
        except ValueError:
            started = e.occurred_at
        return min(started, e.occurred_at) if started.tzinfo else e.occurred_at

    def commander(self) -> tuple[str, int] | None:
        """The last commander and the event that made them so (the declaration when set there)."""
        picked = [r for r in self.roles if r.role.value == "commander"]
        if picked:
            return picked[-1].assignee, picked[-1].version
        if self.declared.commander:
            return self.declared.commander, self.declared.version
        return None

    def reopened(self) -> list[ev.StatusChanged]:
        """Moves back to investigating/identified after mitigation or resolution."""
        order = [Status.TRIGGERED, Status.INVESTIGATING, Status.IDENTIFIED, Status.MITIGATED, Status.RESOLVED]
        return [s for s in self.statuses if s.to_status in order and s.from_status in order
                and order.index(s.to_status) < order.index(s.from_status)]

    def moment_candidates(self) -> list[ev.Event]:
        """Events worth offering as key moments: lifecycle, first signal per fingerprint, notes, pins, actions."""
        seen: set[str] = set()
        out: list[ev.Event] = []
        pinned = {p.message.version for p in self.pins}
        for e in self.events:
            if isinstance(e, ev.SignalAttached):
                fp = str(e.signal.get("fingerprint") or e.version)
                if fp in seen:
                    continue
                seen.add(fp)
                out.append(e)
            elif isinstance(e, MOMENT_TYPES) or e.version in pinned:
                out.append(e)
            elif isinstance(e, ev.RoleAssigned) and e.role.value == "commander":
                out.append(e)
        return out

    def moment_line(self, e: ev.Event) -> tuple[str, list[int]]:
        """How a key moment reads in the timeline section, and the versions it rests on."""
        pin = next((p for p in self.pins if p.message.version == e.version), None)
        who = short_actor(e.actor)
        if pin is not None:
            return f"📌 {who}: “{clip(pin.text, 200)}”", [e.version, pin.pin_version]
        return f"{who}: {clip(defuse(describe(e)), 200)}", [e.version]


def clip(text: str, limit: int) -> str:
    """One line of at most `limit` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def quote(text: str, limit: int = 200) -> str:
    """Untrusted text quoted on one line with citations defused."""
    return "“" + clip(defuse(text), limit) + "”"


def since(a: datetime, b: datetime) -> str:
    """Human duration between two instants (`14m`, `2h 05m`)."""
    return humanize((b - a).total_seconds())


def gather(state: IncidentState, events: list[ev.Event]) -> Facts:
    """Sort one incident's events (oldest first) into Facts."""
    events = sorted((e for e in events if e.incident_id == state.incident_id), key=lambda e: e.version)
    if not events or not isinstance(events[0], ev.IncidentDeclared):
        raise ValueError(f"the timeline of {state.human_id} does not start with its declaration")
    f = Facts(state=state, events=events, declared=events[0])
    texts: dict[str, tuple[ev.ChatMessageCaptured, str]] = {}
    deleted: set[str] = set()
    pin_versions: dict[str, int] = {}
    buckets: dict[type, list[Any]] = {
        ev.StatusChanged: f.statuses, ev.SeverityChanged: f.severities, ev.RoleAssigned: f.roles,
        ev.NoteAdded: f.notes, ev.SignalAttached: f.signals, ev.SignalResolved: f.signals_resolved,
        ev.ActionExecuted: f.actions, ev.ActionUndone: f.actions, ev.ActionDenied: f.actions,
        ev.SuggestionPosted: f.suggestions, ev.SuggestionFeedbackGiven: f.helpful, ev.ChatRoomOpened: f.rooms,
    }
    for e in events:
        f.by_version[e.version] = e
        bucket = buckets.get(type(e))
        if bucket is not None:
            bucket.append(e)
        if isinstance(e, ev.ChatMessageCaptured):
            texts[e.message_id] = (e, e.text)
        elif isinstance(e, ev.ChatMessageEdited) and e.message_id in texts:
            texts[e.message_id] = (texts[e.message_id][0], e.text)
        elif isinstance(e, ev.ChatMessageDeleted):
            deleted.add(e.message_id)
        elif isinstance(e, ev.ReactionAdded) and e.key_moment:
            pin_versions[e.message_id] = e.version
    f.helpful = [h for h in f.helpful if h.helpful]
    for message_id in state.key_moments:
        if message_id in texts and message_id not in deleted and message_id in pin_versions:
            message, text = texts[message_id]
            f.pins.append(Pin(message=message, text=text, pin_version=pin_versions[message_id]))
    return f
