"""Recurrence: when a new incident matches a recurring pattern, record it so the war room says so.

The match is computed outside any transaction (history and tracker reads), then recorded as a
`RecurrenceNoted` event; the war room, on every platform, renders it from the incident's state:
"4th time in 30 days: INC-3, INC-7, INC-9 · postmortem of INC-7 · 2 action items still open".
It is re-evaluated whenever the incident's pattern keys change (a new alert, a new service).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from incident_core.errors import NotFound
from incident_core.history import ActionItemTracker, IncidentHistory
from incident_core.patterns import (
    ITEM_DONE,
    ITEM_OPEN,
    ITEM_UNKNOWN,
    SERVICE_KIND,
    PastIncident,
    past_incident,
    pattern_keys,
    with_statuses,
)
from incident_core.ports import IncidentQueries
from incident_core.recurrence_decisions import NoteRecurrence
from incident_core.state import IncidentState
from incident_core.usecases import Deps, Result, apply_command

DEFAULT_WINDOW = timedelta(days=30)
SYSTEM = "revenant"


def signature(state: IncidentState) -> str:
    """A short digest of the keys the incident groups by; empty when it has none."""
    keys = pattern_keys(past_incident(state))
    return hashlib.sha256("|".join(sorted(keys)).encode()).hexdigest()[:16] if keys else ""


def recurrence_due(state: IncidentState) -> bool:
    """True when an open incident has pattern keys it was not yet checked for."""
    sig = signature(state)
    return state.status.is_open and bool(sig) and (state.recurrence.signature if state.recurrence else "") != sig


@dataclass(frozen=True)
class Match:
    """The earlier incidents of one pattern a new incident belongs to."""

    key: str
    prior: tuple[PastIncident, ...]  # oldest first


def best_match(current: PastIncident, history: Sequence[PastIncident]) -> Match | None:
    """The pattern with the most earlier incidents: alert keys first (they are stronger), then services.

    Only incidents resolved before this one opened count: one still open alongside it is the same trouble
    going on, not a recurrence.
    """
    earlier = [h for h in history if h.incident_id != current.incident_id and h.resolved_at is not None
               and h.resolved_at <= current.opened_at]
    best: tuple[int, int, str, Match] | None = None
    for key in pattern_keys(current):
        prior = tuple(sorted((h for h in earlier if key in pattern_keys(h)), key=lambda h: (h.opened_at, h.human_id)))
        if not prior:
            continue
        rank = (0 if key.startswith(f"{SERVICE_KIND}=") else 1, len(prior), key)
        if best is None or rank[:2] > best[:2] or (rank[:2] == best[:2] and key < best[2]):
            best = (*rank, Match(key, prior))
    return None if best is None else best[3]


def note_recurrence(*, deps: Deps, queries: IncidentQueries, history: IncidentHistory,
                    tracker: ActionItemTracker | None, org_id: str, incident_id: str,
                    window: timedelta = DEFAULT_WINDOW) -> Result | None:
    """Check an incident against its project's history and record the match (None when nothing to record)."""
    state = queries.get(org_id, incident_id)
    if state is None:
        raise NotFound(f"no incident {incident_id} in this org")
    if not recurrence_due(state):
        return None
    current = past_incident(state)
    found = history.sharing_keys(org_id, pattern_keys(current), project_id=state.project_id,
                                 since=state.created_at - window)
    match = best_match(current, [past_incident(s) for s in found])
    if match is None:
        return None
    prior = list(match.prior)
    refs = [i.postmortem for i in prior if i.postmortem is not None]
    if tracker is not None and refs:
        prior = with_statuses(prior, tracker.statuses(org_id, refs))
    items = [a for i in prior if i.postmortem for a in i.postmortem.action_items]
    known = {a.status for a in items}
    tracked = tracker is not None and bool(refs)
    counts = {s: sum(1 for a in items if a.status == s) for s in known}
    unknown = sum(1 for a in items if tracked and a.status == ITEM_OPEN and not a.tracker_ref)
    sig = signature(state)
    command = NoteRecurrence(
        org_id=org_id, incident_id=state.incident_id, actor=SYSTEM, occurred_at=deps.clock.now(), key=match.key,
        window_days=round(window.total_seconds() / 86400), prior=tuple(i.human_id for i in prior),
        postmortems=tuple({"incident": i.human_id, "path": i.postmortem.path} for i in prior if i.postmortem),
        items_open=counts.get(ITEM_OPEN, 0) - unknown, items_done=counts.get(ITEM_DONE, 0),
        items_unknown=unknown + counts.get(ITEM_UNKNOWN, 0), signature=sig)
    return apply_command(deps=deps, command=command, check_role=False,
                         idempotency_key=f"recurrence:{state.incident_id}:{sig}:{match.key}"[:200])


def preferred_sources(state: IncidentState) -> tuple[str, ...]:
    """The knowledge documents guidance should rank first: the matched pattern's postmortems."""
    return tuple(p.path for p in state.recurrence.postmortems if p.path) if state.recurrence else ()
