"""A run of appends to one incident, each continuing the last, built into one PostgreSQL call at once.

Appends to one incident in one transaction merge into one `revenant_append` call (storage/pg_append.py,
`PendingAppend.absorb`). Built append by append, a group of 50 alerts computes 50 signal tails, key row sets,
signal rows and outbox folds, each from the state after its append, only to merge them. A run keeps each
append's part (its event rows, outbox rows, payloads and the state after it) and builds the merged call's rows
once, from the run's last state and all its events, when nothing can tell the two apart:

- the run holds nothing but signals attached (and the declaration that opened the incident): no resolution
  reaches back into earlier tail rows, no other event touches what the rows are read from;
- no signal carries metric values or is a log line: the tail's points and log counts are read per append from
  the state after it, and a later append may evict what an earlier one wrote.

Then every row is the merged one (`tests/storage/test_append_runs.py` compares them field by field): the recent
signals are the run's newest, the key rows the last sighting per key in first-seen order, the drop time the last
append's (the keys only grow until full, and then stay full). Any other run is built append by append, as before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from incident_core import events as ev
from incident_core.state import IncidentState, log_line
from storage.pg_append import PendingAppend, Statement, fold_refreshes
from storage.signal_projection import key_rows, signal_rows
from storage.signal_tail import tail_of

_FOLDABLE = (ev.SignalAttached, ev.IncidentDeclared)


@dataclass
class AppendPart:
    """One append of a run: what `SqlTransaction.append` would have queued, before its projection rows."""

    expected_version: int
    state: IncidentState  # after this append
    events: list[ev.Event]
    rows: list[dict[str, Any]]  # the events' stored rows
    outbox: list[dict[str, Any]]
    payloads: list[dict[str, Any]]
    patterns: bool  # whether the pattern-key index is rewritten after this append


def continues(run: list[AppendPart], incident_id: str, expected_version: int) -> bool:
    """True when an append at `expected_version` to `incident_id` continues `run` right after its last part."""
    return bool(run) and run[-1].state.incident_id == incident_id and run[-1].state.version == expected_version


def foldable(run: list[AppendPart]) -> bool:
    """True when the run's rows may be built once from its last state (see the module's docstring)."""
    for part in run:
        for e in part.events:
            if type(e) not in _FOLDABLE:
                return False
            if isinstance(e, ev.SignalAttached) and (e.signal.get("values") or log_line(e.signal) is not None):
                return False
    return True


def run_append(org_id: str, run: list[AppendPart], after: Callable[[IncidentState], list[Statement]],
               *, fold: bool = True) -> PendingAppend:
    """The merged call of `run` (non-empty); `after` the pattern-key statements, kept when any part rewrites them.

    With `fold` (and a foldable run) the rows are built once; otherwise part by part and merged, as each append
    used to be queued."""
    if not (fold and foldable(run)):
        merged = _part_append(org_id, run[0], after)
        for part in run[1:]:
            merged.absorb(_part_append(org_id, part, after))
        return merged
    last = run[-1].state
    events = [e for part in run for e in part.events]
    keys, keys_before = key_rows(last, events)
    outbox = run[0].outbox
    for part in run[1:]:
        outbox = fold_refreshes(outbox, part.outbox)
    return PendingAppend(org_id=org_id, incident_id=last.incident_id, expected_version=run[0].expected_version,
                         state=last, events=[row for part in run for row in part.rows], outbox=outbox,
                         keys={k["key"]: k for k in keys}, keys_before=keys_before, signals=signal_rows(events),
                         tail=tail_of(last, events), payloads=[row for part in run for row in part.payloads],
                         after=after if any(part.patterns for part in run) else None)


def _part_append(org_id: str, part: AppendPart, after: Callable[[IncidentState], list[Statement]]) -> PendingAppend:
    keys, keys_before = key_rows(part.state, part.events)
    return PendingAppend(org_id=org_id, incident_id=part.state.incident_id, payloads=part.payloads,
                         expected_version=part.expected_version, state=part.state, events=part.rows,
                         outbox=part.outbox, keys={k["key"]: k for k in keys}, keys_before=keys_before,
                         signals=signal_rows(part.events), tail=tail_of(part.state, part.events),
                         after=after if part.patterns else None)
