"""Reminder policy: which reminders are due for an incident now, each with a slot that makes it fire once.

Nothing is stored for a reminder: due times are derived from the incident's state and its latest
events (status updates, snoozes, postmortem activity). A reminder's slot (the due instant it belongs
to) goes into its outbox key, and the outbox key is unique per org, so however many schedulers
evaluate the same slot, one message is written. Missed slots coalesce into the latest one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from incident_core import events as ev
from incident_core import richtext as rt
from incident_core.model import Status
from incident_core.postmortem_model import EDITABLE, LOCKED, add_business_days, status_of
from incident_core.state import IncidentState
from incident_core.timeline import short_actor
from incident_core.warroom import humanize

SNOOZE_KIND, SNOOZE_NAME = "reminder", "snooze"
UPDATE_TYPES = ("IncidentDeclared", "StatusChanged", "SeverityChanged", "NoteAdded", "InteractionCaptured")
POSTMORTEM_TYPES = ("PostmortemDrafted", "PostmortemEdited", "PostmortemSubmitted")
WATCHED_TYPES = UPDATE_TYPES + POSTMORTEM_TYPES
LOOK_AT_LEAST_EVERY = timedelta(hours=1)


@dataclass(frozen=True)
class ReminderPolicy:
    """Org settings under `reminders:` (minutes per severity; None turns a severity's reminder off)."""

    status_minutes: dict[str, int | None] = field(default_factory=lambda: {"SEV1": 30, "SEV2": 60, "SEV3": 240,
                                                                              "SEV4": None})
    postmortem_due_business_days: int = 5
    stale_draft_days: float = 3.0

    @classmethod
    def from_settings(cls, raw: dict[str, Any] | None) -> ReminderPolicy:
        """Read `reminders:` settings over the defaults."""
        raw = dict(raw or {})
        base = cls()
        minutes = {**base.status_minutes, **{str(k).upper(): (int(v) if v else None)
                                             for k, v in dict(raw.get("status_update_minutes") or {}).items()}}
        return cls(status_minutes=minutes,
                   postmortem_due_business_days=int(raw.get("postmortem_due_business_days",
                                                            base.postmortem_due_business_days)),
                   stale_draft_days=float(raw.get("stale_draft_days", base.stale_draft_days)))


@dataclass(frozen=True)
class DueReminder:
    """One reminder to post now: `key` is unique per slot; `snooze` names what a Snooze button snoozes."""

    kind: str
    incident_id: str
    slot: datetime
    content: rt.Rich
    snooze: str | None = None

    @property
    def key(self) -> str:
        return f"reminder:{self.kind}:{self.incident_id}:{self.slot.isoformat()}"


def _latest_slot(start: datetime, every: timedelta, now: datetime) -> datetime:
    """The last of start, start+every, … that is not after now."""
    steps = math.floor((now - start) / every)
    return start + steps * every


def _last_update(state: IncidentState, recent: list[ev.Event]) -> datetime:
    times = [e.occurred_at for e in recent if e.type_name in UPDATE_TYPES and (
        not isinstance(e, ev.InteractionCaptured) or e.name in ("update", "status"))]
    return max([state.created_at, *times])


def _snoozed_until(recent: list[ev.Event], kind: str) -> datetime | None:
    until = None
    for e in recent:
        if isinstance(e, ev.InteractionCaptured) and e.kind == SNOOZE_KIND and e.name == SNOOZE_NAME:
            what, _, minutes = e.text.partition(":")
            if what == kind and minutes.isdigit():
                end = e.occurred_at + timedelta(minutes=int(minutes))
                until = end if until is None or end > until else until
    return until


def _asked(state: IncidentState, request: str) -> tuple[rt.Part, ...]:
    """The reminder's request, addressed to the incident commander when there is one (a mention notifies them:
    a reminder nobody is pinged by is easy to miss at 3 a.m.), else to the room."""
    commander = state.commander
    if not commander:
        return (request[:1].upper() + request[1:],)
    return (rt.mention(commander, short_actor(commander)), f", {request}")


def status_update(state: IncidentState, recent: list[ev.Event], now: datetime,
                  policy: ReminderPolicy) -> DueReminder | None:
    """SEV1 every 30 min without an update (by default), unless snoozed."""
    minutes = policy.status_minutes.get(state.severity.value)
    if not state.status.is_open or not minutes:
        return None
    every = timedelta(minutes=minutes)
    last = _last_update(state, recent)
    start = max(last + every, _snoozed_until(recent, "status_update") or last)
    if now < start:
        return None
    return DueReminder(kind="status_update", incident_id=state.incident_id, slot=_latest_slot(start, every, now),
                       snooze="status_update",
                       content=rt.doc(rt.para(
                           rt.emoji("bell"), f" {state.human_id} ({state.severity.value}, {state.status.value}) has had "
                           f"no status update for {humanize((now - last).total_seconds())}. ",
                           *_asked(state, "post one with "),
                           rt.cmd("status …"), " or ", rt.cmd("note …"), " (", rt.cmd("update"),
                           " drafts it for your stakeholders).")))


def postmortem_due(state: IncidentState, now: datetime, policy: ReminderPolicy) -> DueReminder | None:
    """N business days after resolution without an approved postmortem: once a day until it is."""
    resolved = state.status_times.get(Status.RESOLVED.value)
    if state.status is not Status.RESOLVED or not resolved or status_of(state) in LOCKED:
        return None
    at = datetime.fromisoformat(resolved)
    due = datetime.combine(add_business_days(at.date(), policy.postmortem_due_business_days), at.timetz())
    if now < due:
        return None
    slot = datetime.combine(now.date(), time(0, tzinfo=UTC))
    where = status_of(state)
    return DueReminder(kind="postmortem_due", incident_id=state.incident_id, slot=max(slot, due),
                       content=rt.doc(rt.para(
                           rt.emoji("memo"), f" {state.human_id}'s postmortem was due {due:%a %d %b} "
                           f"({policy.postmortem_due_business_days} business days after resolution) and is "
                           f"{where.value if where else 'not drafted'}. ", *_asked(state, "open it with "),
                           rt.cmd("postmortem"), ".")))


def stale_draft(state: IncidentState, now: datetime, policy: ReminderPolicy) -> DueReminder | None:
    """A draft or submitted postmortem untouched for `stale_draft_days`: a nudge per idle period."""
    status = status_of(state)
    last = state.postmortem.last_activity_at
    if status not in EDITABLE or not last:
        return None
    every = timedelta(days=policy.stale_draft_days)
    start = datetime.fromisoformat(last) + every
    if now < start:
        return None
    ask = "waits for an org commander's approval" if status.value == "submitted" else "needs finishing and submitting"
    return DueReminder(kind="stale_draft", incident_id=state.incident_id, slot=_latest_slot(start, every, now),
                       content=rt.doc(rt.para(
                           rt.emoji("hourglass"), f" {state.human_id}'s postmortem has not changed for "
                           f"{humanize((now - datetime.fromisoformat(last)).total_seconds())} and {ask}. ",
                           *_asked(state, "open it with "), rt.cmd("postmortem"), ".")))


def due_reminders(state: IncidentState, recent: list[ev.Event], now: datetime,
                  policy: ReminderPolicy) -> list[DueReminder]:
    """Every reminder due for this incident now (`recent`: its latest events of WATCHED_TYPES)."""
    if state.status is Status.CLOSED:
        return []
    found = [status_update(state, recent, now, policy), postmortem_due(state, now, policy),
             stale_draft(state, now, policy)]
    return [r for r in found if r is not None]


def next_look(state: IncidentState, recent: list[ev.Event], now: datetime, policy: ReminderPolicy,
              archive_after: timedelta) -> datetime | None:
    """When the reminder tick must next look at this incident, or None when nothing more can fall due.

    The earliest of: its next status-update slot, its postmortem deadline (then each next day), its next
    stale-draft slot, its rooms' archive time once closed; at most LOOK_AT_LEAST_EVERY away while it is
    not closed, so changed reminder settings apply within that time.
    """
    if state.status is Status.CLOSED:
        closed = state.status_times.get(Status.CLOSED.value)
        if not closed or not any(room.room_id for room in state.rooms.values()):
            return None
        at = datetime.fromisoformat(closed) + archive_after
        return at if at > now else None  # archived by this tick's rooms_to_archive
    times = [now + LOOK_AT_LEAST_EVERY]
    minutes = policy.status_minutes.get(state.severity.value)
    if state.status.is_open and minutes:
        every = timedelta(minutes=minutes)
        last = _last_update(state, recent)
        times.append(_after(max(last + every, _snoozed_until(recent, "status_update") or last), every, now))
    resolved = state.status_times.get(Status.RESOLVED.value)
    if state.status is Status.RESOLVED and resolved and status_of(state) not in LOCKED:
        at = datetime.fromisoformat(resolved)
        due = datetime.combine(add_business_days(at.date(), policy.postmortem_due_business_days), at.timetz())
        times.append(due if due > now else datetime.combine(now.date() + timedelta(days=1), time(0, tzinfo=UTC)))
    last_activity = state.postmortem.last_activity_at
    if status_of(state) in EDITABLE and last_activity:
        every = timedelta(days=policy.stale_draft_days)
        times.append(_after(datetime.fromisoformat(last_activity) + every, every, now))
    return min(times)


def _after(start: datetime, every: timedelta, now: datetime) -> datetime:
    """The first of start, start+every, … that is after now."""
    return start if start > now else _latest_slot(start, every, now) + every
