"""One read of an incident's state per delivered outbox message, shared by every subscriber of that message.

Four subscribers react to each `incident.changed` (recurrence, rooms, guidance, drafts) and the use cases they
call read the state again (`keep_room` then `refresh_room`, `_offer` then `offer_guidance`): five or six reads of
the same row per message. While a message is delivered (`StateSnapshots.delivering`), a read is answered from the
message's snapshot instead, taken by its first read (after the claim, as before).

Why the last state still wins: a change committed by another process after the snapshot was read comes with an
`incident.changed` message of its own, not folded into this one (claim folds only messages that existed when it
ran), so it is rendered when that message is delivered. A change this process commits during the delivery (the
recurrence watcher's line, the room just recorded) is seen at once: `newest` reports the version this process
last committed, and a snapshot older than that is read again. Keys carry the org, so a snapshot answers only the
org it was read for.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from incident_core.events import Event
from incident_core.ports import IncidentQueries
from incident_core.state import IncidentState


class Snapshot:
    """The states read while delivering one message, by (org, incident reference); shared by its threads."""

    def __init__(self) -> None:
        self.states: dict[tuple[str, str], IncidentState] = {}
        self.reads = 0  # reads that went to the store
        self.lock = threading.Lock()  # subscribers running side by side wait for the first read, not repeat it


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


def no_newest(_org_id: str, _incident_id: str) -> int | None:
    """A `newest` for stores that know nothing of this process's writes: a snapshot is then never re-read."""
    return None


class StateSnapshots:
    """IncidentQueries that read each incident's state once per delivered message (outside one: every time)."""

    def __init__(self, queries: IncidentQueries,
                 newest: Callable[[str, str], int | None] = no_newest) -> None:
        self.queries = queries
        self.newest = newest  # (org, incident) -> the version this process last committed, if it knows one

    @contextmanager
    def delivering(self, snapshot: Snapshot) -> Iterator[None]:
        """Answer this thread's reads from `snapshot` for the block (one message's subscriber call)."""
        token = _CURRENT.set(snapshot)
        try:
            yield
        finally:
            _CURRENT.reset(token)

    def get(self, org_id: str, ref: str) -> IncidentState | None:
        """By id or human id: the snapshot's state unless this process has committed a newer version since."""
        snapshot = _CURRENT.get()
        if snapshot is None:
            return self.queries.get(org_id, ref)
        key = (org_id, ref)
        with snapshot.lock:
            state = snapshot.states.get(key)
            if state is not None and not _FRESH.get():
                newest = self.newest(org_id, state.incident_id)
                if newest is None or newest <= state.version:
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
