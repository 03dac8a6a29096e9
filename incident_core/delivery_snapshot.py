"""One read of an incident's state per delivered outbox message, shared by every subscriber of that message.

Four subscribers react to each `incident.changed` (recurrence, rooms, guidance, drafts) and the use cases they
call read the state again (`keep_room` then `refresh_room`, `_offer` then `offer_guidance`): five or six reads of
the same row per message. While a message is delivered (`StateSnapshots.delivering`), a read is answered from the
message's snapshot instead, taken by its first read (after the claim, as before).

Why the last state still wins: a change committed by another process after the snapshot was read comes with an
`incident.changed` message of its own, not folded into this one (claim folds only messages that existed when it
ran), so it is rendered when that message is delivered. A change this process commits during the delivery (the
recurrence watcher's line, the room just recorded) is seen at once: `newest` reports the state this process last
committed (its unit of work's state cache, which its appends already take as the stored state at that version), and
it replaces an older snapshot without a read. (In `serve` the ingest commits in the same process: a signal appended
after the claim is seen this way too, as a read would have seen it.) Keys carry the org, so a snapshot answers only the
org it was read for.

On PostgreSQL the claim itself reads the message's incident, in its own statement (`Prefetched`, storage/outbox_pg.py
CLAIM): the snapshot starts with that state and the incident's pattern-key index marks, so the subscribers' first
reads cost no round trip and no transaction. The claim's snapshot is as good as a read after it: every change it
does not show left a message the claim did not fold. `HistorySnapshots` answers the recurrence watcher's two
questions about those marks from it; this process's own marking makes the next question go to the store.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime

from incident_core.events import Event
from incident_core.history import IncidentHistory
from incident_core.patterns import DEFAULT_WINDOW_DAYS, PatternMarks, marks_unchecked, marks_untold
from incident_core.ports import IncidentQueries
from incident_core.state import IncidentState


@dataclass(frozen=True)
class Prefetched:
    """What a claim read of its message's incident in the claim's own statement."""

    org_id: str
    incident_id: str
    state: IncidentState
    marks: PatternMarks  # its pattern-key index marks (None: it has no pattern keys)


class Snapshot:
    """The states read while delivering one message, by (org, incident reference); shared by its threads."""

    def __init__(self, prefetched: Prefetched | None = None) -> None:
        self.states: dict[tuple[str, str], IncidentState] = {}
        self.marks: dict[tuple[str, str], PatternMarks] = {}  # by (org, incident id), while unchanged here
        self.reads = 0  # reads that went to the store
        self.lock = threading.Lock()  # subscribers running side by side wait for the first read, not repeat it
        if prefetched is not None:
            key = (prefetched.org_id, prefetched.incident_id)
            self.states[key], self.marks[key] = prefetched.state, prefetched.marks


_CURRENT: ContextVar[Snapshot | None] = ContextVar("revenant_delivery_snapshot", default=None)
_FRESH: ContextVar[bool] = ContextVar("revenant_delivery_fresh", default=False)


@contextmanager
def fresh_reads() -> Iterator[None]:
    """Reads in this block go to the store (and refresh the snapshot): after taking a claim another process held."""
    token = _FRESH.set(True)
    try:
        yield
    finally:
        _FRESH.reset(token)


def no_newest(_org_id: str, _incident_id: str) -> IncidentState | None:
    """A `newest` for stores that know nothing of this process's writes: a snapshot is then never re-read."""
    return None


class StateSnapshots:
    """IncidentQueries that read each incident's state once per delivered message (outside one: every time)."""

    def __init__(self, queries: IncidentQueries,
                 newest: Callable[[str, str], IncidentState | None] = no_newest) -> None:
        self.queries = queries
        self.newest = newest  # (org, incident) -> the state this process last committed (or read), if it knows one

    @contextmanager
    def delivering(self, snapshot: Snapshot) -> Iterator[None]:
        """Answer this thread's reads from `snapshot` for the block (one message's subscriber call)."""
        token = _CURRENT.set(snapshot)
        try:
            yield
        finally:
            _CURRENT.reset(token)

    def get(self, org_id: str, ref: str) -> IncidentState | None:
        """By id or human id: the snapshot's state, or the newer one this process has committed since."""
        snapshot = _CURRENT.get()
        if snapshot is None:
            return self.queries.get(org_id, ref)
        key = (org_id, ref)
        with snapshot.lock:
            state = snapshot.states.get(key)
            if state is not None and not _FRESH.get():
                newest = self.newest(org_id, state.incident_id)
                if newest is not None and newest.version > state.version:
                    snapshot.states[key] = state = newest  # no read: the state as this process committed it
                return state
            snapshot.reads += 1
            read = self.queries.get(org_id, ref)
            if read is not None and (state is None or read.version >= state.version):
                snapshot.states[key] = state = read
            return state if read is not None else None

    def list_incidents(self, org_id: str, *, open_only: bool = False, limit: int = 100) -> list[IncidentState]:
        """As the store answers (not part of a snapshot)."""
        return self.queries.list_incidents(org_id, open_only=open_only, limit=limit)

    def timeline(self, org_id: str, incident_id: str) -> list[Event]:
        """As the store answers (not part of a snapshot)."""
        return self.queries.timeline(org_id, incident_id)

    def by_room(self, org_id: str, platform: str, room_id: str) -> IncidentState | None:
        """As the store answers (not part of a snapshot)."""
        return self.queries.by_room(org_id, platform, room_id)


class HistorySnapshots:
    """IncidentHistory whose questions about the delivered incident's pattern marks are answered from the message's
    snapshot when the claim read them; everything else, and any marking, goes to the store."""

    def __init__(self, history: IncidentHistory) -> None:
        self.history = history

    def recurrence_unchecked(self, org_id: str, incident_id: str, window_days: int = DEFAULT_WINDOW_DAYS) -> bool:
        """False only when the incident's current pattern keys were already checked with this window."""
        snapshot, key = _CURRENT.get(), (org_id, incident_id)
        if snapshot is None or key not in snapshot.marks:
            return self.history.recurrence_unchecked(org_id, incident_id, window_days)
        return marks_unchecked(snapshot.marks[key], window_days)

    def later_untold(self, org_id: str, incident_id: str, window_days: int = DEFAULT_WINDOW_DAYS) -> bool:
        """True when the open incidents sharing this (resolved) incident's keys were not yet rechecked for them."""
        snapshot, key = _CURRENT.get(), (org_id, incident_id)
        if snapshot is None or key not in snapshot.marks:
            return self.history.later_untold(org_id, incident_id, window_days)
        return marks_untold(snapshot.marks[key], window_days)

    def mark_recurrence_checked(self, org_id: str, incident_id: str, signature: str,
                                window_days: int = DEFAULT_WINDOW_DAYS) -> None:
        """As the store does; the snapshot's marks of the incident are forgotten (the next question reads them)."""
        _forget_marks(org_id, incident_id)
        self.history.mark_recurrence_checked(org_id, incident_id, signature, window_days)

    def mark_later_told(self, org_id: str, incident_id: str, signature: str,
                        window_days: int = DEFAULT_WINDOW_DAYS) -> None:
        """As the store does; the snapshot's marks of the incident are forgotten (the next question reads them)."""
        _forget_marks(org_id, incident_id)
        self.history.mark_later_told(org_id, incident_id, signature, window_days)

    def opened_since(self, org_id: str, since: datetime, *, until: datetime | None = None,
                     project_id: str | None = None) -> list[IncidentState]:
        """As the store answers."""
        return self.history.opened_since(org_id, since, until=until, project_id=project_id)

    def sharing_keys(self, org_id: str, keys: Sequence[str], *, project_id: str | None,
                     since: datetime) -> list[IncidentState]:
        """As the store answers."""
        return self.history.sharing_keys(org_id, keys, project_id=project_id, since=since)

    def pattern_counts(self, org_id: str, keys: Sequence[str], *, project_id: str | None, since: datetime,
                       resolved_by: datetime, exclude: str) -> dict[str, int]:
        """As the store answers."""
        return self.history.pattern_counts(org_id, keys, project_id=project_id, since=since,
                                           resolved_by=resolved_by, exclude=exclude)

    def open_sharing(self, org_id: str, incident_id: str, limit: int = 100, *,
                     opened_since: datetime | None = None) -> list[str]:
        """As the store answers."""
        return self.history.open_sharing(org_id, incident_id, limit, opened_since=opened_since)


def _forget_marks(org_id: str, incident_id: str) -> None:
    snapshot = _CURRENT.get()
    if snapshot is not None:
        with snapshot.lock:
            snapshot.marks.pop((org_id, incident_id), None)
