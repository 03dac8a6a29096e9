"""Recurrence: when a new incident matches a recurring pattern, record it so the war room says so.

The match is computed outside any transaction (history and tracker reads), then recorded as a
`RecurrenceNoted` event; the war room, on every platform, renders it from the incident's state:
"4th time in 30 days: INC-3, INC-7, INC-9 · postmortem of INC-7 · 2 action items still open".
It is re-evaluated whenever the incident's pattern keys change (a new alert, a new service) or the org's window
changes, and only then; a match a narrower window no longer supports is withdrawn (`RecurrenceWithdrawn`: the
timeline says why, the war room says it no longer applies), never dropped silently.
A resolved incident whose keys change later (a late signal) has the open incidents sharing them checked again
(`recheck_later_incidents`), as one whose postmortem is approved after their check.
the history's pattern-key index remembers the keys last checked and counts earlier incidents per key, so a
check loads no state but the incident's own and those of the pattern it matched (docs/insights.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from incident_core.errors import NotFound
from incident_core.history import ActionItemTracker, IncidentHistory
from incident_core.patterns import (
    DEFAULT_WINDOW_DAYS,
    ITEM_DONE,
    ITEM_OPEN,
    ITEM_UNKNOWN,
    SERVICE_KIND,
    PastIncident,
    check_mark,
    keys_signature,
    past_incident,
    pattern_keys,
    postmortem_of,
    resolved_at,
    state_pattern_keys,
    with_statuses,
)
from incident_core.ports import IncidentQueries
from incident_core.recurrence_decisions import NoteRecurrence, WithdrawRecurrence
from incident_core.state import IncidentState
from incident_core.usecases import Deps, Result, apply_command

DEFAULT_WINDOW = timedelta(days=DEFAULT_WINDOW_DAYS)
SYSTEM = "revenant"


def signature(state: IncidentState) -> str:
    """A short digest of the keys the incident groups by; empty when it has none."""
    return keys_signature(state_pattern_keys(state))


def recurrence_due(state: IncidentState, window_days: int = DEFAULT_WINDOW_DAYS) -> bool:
    """True when an open incident has pattern keys it was not yet checked for, or its recorded match was found
    with another window (the org changed `recurrence_days`)."""
    sig, noted = signature(state), state.recurrence
    if not state.status.is_open or not sig:
        return False
    return noted is None or noted.signature != sig or noted.window_days != window_days


@dataclass(frozen=True)
class Match:
    """The earlier incidents of one pattern a new incident belongs to."""

    key: str
    prior: tuple[PastIncident, ...]  # oldest first


def best_key(counts: Mapping[str, int], keys: Sequence[str]) -> str | None:
    """Of `keys` (in order), the one with the most earlier incidents (`counts`): alert keys before services,
    then the larger count, then the smaller key."""
    best: tuple[int, int, str] | None = None
    for key in keys:
        n = counts.get(key, 0)
        if not n:
            continue
        rank = (0 if key.startswith(f"{SERVICE_KIND}=") else 1, n)
        if best is None or rank > best[:2] or (rank == best[:2] and key < best[2]):
            best = (*rank, key)
    return None if best is None else best[2]


def best_match(current: PastIncident, history: Sequence[PastIncident],
               keys: Sequence[str] | None = None) -> Match | None:
    """The pattern with the most earlier incidents: alert keys first (they are stronger), then services.

    Only incidents resolved before this one opened count: one still open alongside it is the same trouble
    going on, not a recurrence. `keys` limits the candidates (default: all of the incident's pattern keys).
    """
    earlier = [h for h in history if h.incident_id != current.incident_id and h.resolved_at is not None
               and h.resolved_at <= current.opened_at]
    priors = {key: tuple(sorted((h for h in earlier if key in pattern_keys(h)), key=lambda h: (h.opened_at, h.human_id)))
              for key in (pattern_keys(current) if keys is None else keys)}
    key = best_key({k: len(p) for k, p in priors.items()}, list(priors))
    return None if key is None else Match(key, priors[key])


OPEN_RECHECK_LIMIT = 500  # open incidents checked again at once when the org's window changes


def note_recurrence(*, deps: Deps, queries: IncidentQueries, history: IncidentHistory,
                    tracker: ActionItemTracker | None, org_id: str, incident_id: str,
                    window: timedelta = DEFAULT_WINDOW, recheck: bool = False) -> Result | None:
    """Check an incident against its project's history and record the match (None when nothing to record).

    `recheck`: look again although these keys were checked (an earlier incident of the match has changed since,
    e.g. its postmortem was approved); the match is recorded again only when what it says differs."""
    days = round(window.total_seconds() / 86400)
    if not recheck and not history.recurrence_unchecked(org_id, incident_id, days):
        return None  # the index says these pattern keys were checked already, with this window
    state = queries.get(org_id, incident_id)
    if state is None:
        raise NotFound(f"no incident {incident_id} in this org")
    sig = signature(state)
    if not recurrence_due(state, days) and not (recheck and state.status.is_open and sig):
        if state.status.is_open:  # these keys' match is recorded (a closed incident is checked on reopening)
            history.mark_recurrence_checked(org_id, incident_id, sig, days)
        return None
    match = _find_match(history, state, window)
    if match is None:
        noted = state.recurrence
        withdrawn = None
        if noted is not None and noted.prior and noted.window_days > days:  # the org narrowed its window
            withdrawn = apply_command(
                deps=deps, check_role=False,
                command=WithdrawRecurrence(org_id=org_id, incident_id=state.incident_id, actor=SYSTEM,
                                           occurred_at=deps.clock.now(), window_days=days, signature=sig),
                idempotency_key=f"recurrence-withdrawn:{state.incident_id}:v{state.version}")
        history.mark_recurrence_checked(org_id, incident_id, sig, days)
        return withdrawn
    prior = list(match.prior)
    refs = [i.postmortem for i in prior if i.postmortem is not None]
    if tracker is not None and refs:
        prior = with_statuses(prior, tracker.statuses(org_id, refs))
    items = [a for i in prior if i.postmortem for a in i.postmortem.action_items]
    known = {a.status for a in items}
    tracked = tracker is not None and bool(refs)
    counts = {s: sum(1 for a in items if a.status == s) for s in known}
    unknown = sum(1 for a in items if tracked and a.status == ITEM_OPEN and not a.tracker_ref)
    command = NoteRecurrence(
        org_id=org_id, incident_id=state.incident_id, actor=SYSTEM, occurred_at=deps.clock.now(), key=match.key,
        window_days=days, prior=tuple(i.human_id for i in prior),
        postmortems=tuple({"incident": i.human_id, "path": i.postmortem.path} for i in prior if i.postmortem),
        items_open=counts.get(ITEM_OPEN, 0) - unknown, items_done=counts.get(ITEM_DONE, 0),
        items_unknown=unknown + counts.get(ITEM_UNKNOWN, 0), signature=sig)
    said = hashlib.sha256(repr((command.prior, command.postmortems, command.items_open, command.items_done,
                                command.items_unknown)).encode()).hexdigest()[:12]  # a recheck that says more
    result = apply_command(deps=deps, command=command, check_role=False,
                           idempotency_key=f"recurrence:{state.incident_id}:v{state.version}:{check_mark(sig, days)}:{said}:"
                           f"{match.key}"[:200])
    history.mark_recurrence_checked(org_id, incident_id, sig, days)
    return result


def recheck_open_incidents(*, deps: Deps, queries: IncidentQueries, history: IncidentHistory,
                           tracker: ActionItemTracker | None, org_id: str, window: timedelta,
                           limit: int = OPEN_RECHECK_LIMIT,
                           progress: Callable[[int, int], None] | None = None) -> tuple[int, int]:
    """The org changed its window: check its open incidents with it now (newest first, at most `limit`), rather
    than at each one's next change. Returns (checked, recorded): a match found, changed or withdrawn counts as
    recorded; an incident already checked with this window is skipped by the index. `progress(done, total)` is
    called before each check and once at the end (a check can ask the tracker for action items)."""
    opened = queries.list_incidents(org_id, open_only=True, limit=limit)
    recorded = 0
    for done, state in enumerate(opened):
        if progress is not None:
            progress(done, len(opened))
        try:
            result = note_recurrence(deps=deps, queries=queries, history=history, tracker=tracker, org_id=org_id,
                                     incident_id=state.incident_id, window=window)
        except NotFound:  # gone since the listing (another process): nothing to check
            continue
        recorded += bool(result is not None and result.events)
    if progress is not None:
        progress(len(opened), len(opened))
    return len(opened), recorded


def recheck_later_incidents(*, deps: Deps, queries: IncidentQueries, history: IncidentHistory,
                            tracker: ActionItemTracker | None, org_id: str, incident_id: str,
                            window: timedelta = DEFAULT_WINDOW) -> int:
    """When a resolved incident changes in a way an open incident's match depends on, check those open incidents
    again; returns how many were recorded again.

    Two changes count: its pattern keys changed since the open incidents sharing them were last told (a late
    signal or service gave it a key an open incident holds: that one may now match it), and its approved
    postmortem is not yet named by a match that names the incident. At most `open_sharing`'s 100 open incidents,
    found by the org's index."""
    state = queries.get(org_id, incident_id)
    if state is None or state.status.is_open:
        return 0
    days = round(window.total_seconds() / 86400)
    sig, has_postmortem = signature(state), postmortem_of(state) is not None
    untold = bool(sig) and history.later_untold(org_id, incident_id, days)
    if not untold and not has_postmortem:
        return 0
    again = 0
    for other_id in history.open_sharing(org_id, incident_id, opened_since=resolved_at(state)):
        other = queries.get(org_id, other_id)
        noted = other.recurrence if other is not None else None
        named = noted is not None and state.human_id in noted.prior
        if noted is not None and named and (
                not has_postmortem or state.human_id in {p.incident for p in noted.postmortems}):
            continue  # its match already says all this incident adds
        if not named and not untold:
            continue  # only the postmortem is news, and the match does not name this incident
        result = note_recurrence(deps=deps, queries=queries, history=history, tracker=tracker, org_id=org_id,
                                 incident_id=other_id, window=window, recheck=True)
        again += bool(result is not None and result.events)
    if untold:
        history.mark_later_told(org_id, incident_id, sig, days)
    return again


def _find_match(history: IncidentHistory, state: IncidentState, window: timedelta) -> Match | None:
    """The best key from the pattern index's counts, then only that key's earlier incidents loaded."""
    current = past_incident(state)
    keys = pattern_keys(current)
    since = state.created_at - window
    counts = history.pattern_counts(state.org_id, keys, project_id=state.project_id, since=since,
                                    resolved_by=state.created_at, exclude=state.incident_id)
    key = best_key(counts, keys)
    if key is None:
        return None
    found = history.sharing_keys(state.org_id, [key], project_id=state.project_id, since=since)
    return best_match(current, [past_incident(s) for s in found], keys=(key,))


def preferred_sources(state: IncidentState) -> tuple[str, ...]:
    """The knowledge documents guidance should rank first: the matched pattern's postmortems."""
    return tuple(p.path for p in state.recurrence.postmortems if p.path) if state.recurrence else ()
