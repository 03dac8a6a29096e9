"""A per-process cache of incident states this process last wrote or read, for optimistic appends.

A cached state is only ever a guess: an append decided from it carries the cached version as its
expected version, and the database refuses the write (ConcurrencyConflict, entry evicted) if
another process appended in between. Decisions that write nothing are never taken from the cache
(see usecases.run_command). Keys carry the org, so one org's entry cannot answer for another's.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from incident_core.state import IncidentState

DEFAULT_SIZE = 4096


class StateCache:
    """A bounded, thread-safe LRU of IncidentState keyed by (org id, incident id)."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self._size = size
        self._items: OrderedDict[tuple[str, str], IncidentState] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, org_id: str, incident_id: str) -> IncidentState | None:
        with self._lock:
            state = self._items.get((org_id, incident_id))
            if state is not None:
                self._items.move_to_end((org_id, incident_id))
            return state

    def put(self, state: IncidentState) -> None:
        if self._size <= 0:
            return
        key = (state.org_id, state.incident_id)
        with self._lock:
            current = self._items.get(key)
            if current is not None and current.version > state.version:
                return  # a newer state from another thread of this process already landed
            self._items[key] = state
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def evict(self, org_id: str, incident_id: str) -> None:
        with self._lock:
            self._items.pop((org_id, incident_id), None)

    def __len__(self) -> int:
        return len(self._items)
