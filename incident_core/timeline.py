"""Render events as the timeline a person reads."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from incident_core import events as ev

_ACTOR_WIDTH = 18  # the actor column; longer names are cut to keep every description in one column


def describe(event: ev.Event) -> str:
    """One line, present tense, no timestamp."""
    fn = _DESCRIBERS.get(type(event))
    return fn(event) if fn else event.type_name


def render(events: Iterable[ev.Event], names: dict[str, str] | None = None) -> list[str]:
    """`HH:MM:SS  actor  what happened` lines, oldest first; a date line wherever the UTC day changes.

    With `names` (member id → display name), people appear by name instead of platform ids.
    """
    items = list(events)
    multi_day = len({e.occurred_at.date() for e in items}) > 1
    lines, day = [], None
    for e in items:
        if multi_day and e.occurred_at.date() != day:
            day = e.occurred_at.date()
            lines.append(f"— {e.occurred_at:%a %d %b %Y} (UTC) —")
        actor, what = short_actor(e.actor), describe(e)
        if names:  # named before padding, so the column stays aligned whatever the name's length
            actor, what = with_names(actor, names), with_names(what, names)
        actor = actor if len(actor) <= _ACTOR_WIDTH else actor[:_ACTOR_WIDTH - 1] + "…"
        lines.append(f"{e.occurred_at:%H:%M:%S}  {actor:<{_ACTOR_WIDTH}} {what}")
    return lines


def with_names(text: str, names: dict[str, str]) -> str:
    """Replace platform user ids (`slack:U123` or the bare `U123` the draft writes) with display names."""
    for qualified, name in sorted(names.items(), key=lambda kv: -len(kv[0])):
        bare = qualified.split(":", 1)[1] if ":" in qualified else qualified
        if len(bare) < 4 or not name:
            continue  # too short to replace safely
        text = re.sub(rf"(?<![\w:]){re.escape(qualified)}(?!\w)|(?<![\w:]){re.escape(bare)}(?!\w)", name, text)
    return text



def short_actor(actor: str) -> str:
    """`slack:U123` → `U123`, `system` stays."""
    return actor.split(":", 1)[1] if ":" in actor else actor


def to_json(e: ev.Event) -> dict[str, Any]:
    """The external JSON shape of one timeline entry."""
    return {
        "type": e.type_name,
        "version": e.version,
        "occurred_at": e.occurred_at.isoformat(),
        "actor": e.actor,
        "summary": describe(e),
        "data": e.payload(),
    }


def _signal(e: ev.SignalAttached) -> str:
    s = e.signal
    if s.get("kind") == "change":  # an update from the sender (acknowledged, a note…), not a re-trigger
        return f"update from {s.get('source')}: {s.get('title')} — {e.reason}"
    return f"signal {s.get('status', 'firing')} [{s.get('severity')}] {s.get('title')} ({s.get('source')}) — {e.reason}"


_DESCRIBERS: dict[type, Callable[[Any], str]] = {
    ev.IncidentDeclared: lambda e: f"declared INC-{e.number} “{e.title}” {e.severity.value}, {e.status.value}"
    + (f" via {e.source}" if e.source != "chat" else ""),
    ev.StatusChanged: lambda e: f"status {e.from_status.value} → {e.to_status.value}"
    + (f": {e.note}" if e.note else ""),
    ev.SeverityChanged: lambda e: f"severity {e.from_severity.value} → {e.to_severity.value}"
    + (f": {e.reason}" if e.reason else ""),
    ev.RoleAssigned: lambda e: f"{short_actor(e.assignee)} is now {e.role.value}"
    + (f" (was {short_actor(e.previous)})" if e.previous else ""),
    ev.TitleChanged: lambda e: f"renamed to “{e.title}”",
    ev.NoteAdded: lambda e: f"note: {e.text}",
    ev.SignalAttached: _signal,
    ev.SignalResolved: lambda e: f"signal resolved: {e.title} — {e.reason}",
    ev.AllClearReached: lambda e: f"all clear: {e.reason}",
    ev.SignalIgnored: lambda e: f"signal {e.signal.get('title')} not attached — {e.reason}",
    ev.ChatMessageCaptured: lambda e: f"said: {e.text}",
    ev.ChatMessageEdited: lambda e: f"edited a message: {e.text}",
    ev.ChatMessageDeleted: lambda e: "deleted a message",
    ev.ReactionAdded: lambda e: f"reacted :{e.emoji}:" + (" (key moment)" if e.key_moment else ""),
    ev.ReactionRemoved: lambda e: f"removed reaction :{e.emoji}:",
    ev.MemberJoined: lambda e: f"{short_actor(e.user)} joined",
    ev.InteractionCaptured: lambda e: f"{e.kind} {e.name} {e.text}".rstrip(),
    ev.ChatRoomOpened: lambda e: f"opened {e.platform} room #{e.room_name}",
    ev.GuidanceOffered: lambda e: f"offered guidance ({e.trigger.replace('_', ' ')}): "
    + (e.message or "nothing relevant found" if e.nothing_found else f"{len(e.suggestion_ids)} step(s)"),
    ev.SuggestionPosted: lambda e: f"suggested [{e.risk}] {e.title} (from {e.source})",
    ev.SuggestionFeedbackGiven: lambda e: f"marked suggestion {'helpful' if e.helpful else 'not helpful'}",
    ev.ActionRequested: lambda e: f"requested {e.summary or e.action} [{e.risk}]"
    + {"confirmation": ", awaiting the requester's confirmation",
       "approval": ", awaiting a commander's approval"}.get(e.awaiting or "", "")
    + (f" (from {e.source})" if e.source else ""),
    ev.ActionApproved: lambda e: f"confirmed {e.summary or e.action_id} [{e.risk}]" if e.confirmation
    else f"approved by {short_actor(e.approver)}: {e.summary or e.action_id} [{e.risk}]",
    ev.ActionDenied: lambda e: f"denied {e.summary or e.action_id} [{e.risk}]" + (f": {e.reason}" if e.reason else ""),
    ev.ActionExecuted: lambda e: f"{'executed' if e.succeeded else 'failed to run'} {e.summary or e.action_id}"
    + (f" [{e.risk}]" if e.risk else "") + (f", approved by {short_actor(e.approver)}" if e.approver else "")
    + ": " + (e.output.strip().splitlines() or ["(no output)"])[0][:160],
    ev.ActionUndone: lambda e: f"{'undid' if e.succeeded else 'failed to undo'} {e.summary or e.action_id}: "
    + (e.output.strip().splitlines() or ["(no output)"])[0][:160],
    ev.PostmortemDrafted: lambda e: f"drafted the postmortem ({e.source}, {len(e.sections)} sections, "
    f"{len(e.action_items)} action items)",
    ev.PostmortemEdited: lambda e: f"reviewed the postmortem's key moments ({len(e.key_moments)} kept)"
    if e.section == "key_moments" else f"edited the postmortem's action items ({len(e.action_items)})"
    if e.section == "action_items" else f"edited postmortem section {e.section.replace('_', ' ')}",
    ev.PostmortemSubmitted: lambda e: "submitted the postmortem for approval"
    + (f" ({e.warnings} blameless-language warning(s) open)" if e.warnings else ""),
    ev.PostmortemApproved: lambda e: f"approved the postmortem by {short_actor(e.approver)}"
    + (f"; publishing to {', '.join(e.targets)}" if e.targets else ""),
    ev.PostmortemPublished: lambda e: f"published the postmortem to {e.target}: {e.url}",
    ev.RecurrenceNoted: lambda e: f"recurring: {e.label}, {len(e.prior) + 1} times in {e.window_days} days "
    f"(before: {', '.join(e.prior[-5:])})",
    ev.RecurrenceWithdrawn: lambda e: f"no longer recurring: {e.label} ({e.reason})",
}
