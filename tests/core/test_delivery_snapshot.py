"""One state read per delivered message (incident_core/delivery_snapshot.py), with fakes: the snapshot answers
repeated reads, a write of this process makes the next read go to the store, a claim's re-read is fresh, and a
snapshot answers only for the org it was read for. A claim's prefetch answers the first reads and the recurrence
watcher's questions about the incident's pattern marks, as the index would, until this process marks them."""

from __future__ import annotations

import threading
from collections.abc import Callable

from incident_core import commands as cmd
from incident_core import usecases as uc
from incident_core.delivery_snapshot import (
    HistorySnapshots,
    Prefetched,
    Snapshot,
    StateSnapshots,
    fresh_reads,
)
from incident_core.model import Severity
from incident_core.patterns import PatternMarks, check_mark, marks_unchecked, marks_untold, told_mark
from incident_core.state import IncidentState
from tests.core.fakes import Queries, World


class Counting(Queries):
    """The fake store's reads, counted."""

    def __init__(self, w: World) -> None:
        super().__init__(w.store)
        self.reads = 0

    def get(self, org_id: str, ref: str) -> IncidentState | None:
        self.reads += 1
        return super().get(org_id, ref)

    def list_incidents(self, org_id: str, *, open_only: bool = False, limit: int = 100) -> list[IncidentState]:
        return self.list(org_id, open_only=open_only, limit=limit)


def world() -> tuple[World, Counting, str]:
    w = World()
    incident = uc.declare_incident(deps=w.deps, org_id=w.org_id, actor="slack:U1", title="Checkout latency",
                                   source="chat", check_role=False).state.incident_id
    return w, Counting(w), incident


def sev1(w: World, incident: str) -> None:
    """A write of this process: the incident becomes SEV1."""
    uc.apply_command(deps=w.deps, check_role=False, command=cmd.ChangeSeverity(
        org_id=w.org_id, incident_id=incident, actor="slack:U1", occurred_at=w.clock.now(), severity=Severity.SEV1))


def written(w: World) -> Callable[[str, str], IncidentState | None]:
    """`newest` as bot/bootstrap.py builds it, here from the fake store (every write is this process's)."""
    def newest(org_id: str, incident_id: str) -> IncidentState | None:
        return w.store.states.get((org_id, incident_id))
    return newest


def test_a_delivery_reads_the_state_once_and_outside_one_every_time() -> None:
    w, store, incident = world()
    states = StateSnapshots(store, written(w))
    with states.delivering(Snapshot()):
        first = states.get(w.org_id, incident)
        assert all(states.get(w.org_id, incident) is first for _ in range(5))
    assert store.reads == 1
    states.get(w.org_id, incident)
    states.get(w.org_id, incident)
    assert store.reads == 3
    with states.delivering(Snapshot()):  # the next message reads again
        states.get(w.org_id, incident)
    assert store.reads == 4


def test_a_write_of_this_process_during_the_delivery_is_seen_by_the_next_read_without_a_read() -> None:
    w, store, incident = world()
    states = StateSnapshots(store, written(w))
    with states.delivering(Snapshot()):
        before = states.get(w.org_id, incident)
        assert before is not None
        sev1(w, incident)
        after = states.get(w.org_id, incident)
        assert after is not None and after.version == before.version + 1 and after.severity is Severity.SEV1
        assert after is w.store.states[(w.org_id, incident)]  # the state this process committed, not a read
        assert states.get(w.org_id, incident) is after
    assert store.reads == 1


def test_without_knowledge_of_writes_a_snapshot_is_only_refreshed_by_fresh_reads() -> None:
    w, store, incident = world()
    states = StateSnapshots(store)  # no `newest`: another process's writes are never known either
    with states.delivering(Snapshot()):
        before = states.get(w.org_id, incident)
        sev1(w, incident)
        assert states.get(w.org_id, incident) is before  # the write's own outbox message renders it later
        with fresh_reads():
            fresh = states.get(w.org_id, incident)
        assert fresh is not None and before is not None and fresh.version == before.version + 1
        assert states.get(w.org_id, incident) is fresh  # the fresh read is the snapshot from now on
    assert store.reads == 2


def test_a_snapshot_answers_only_for_its_org() -> None:
    w, store, incident = world()
    states = StateSnapshots(store, written(w))
    with states.delivering(Snapshot()):
        assert states.get(w.org_id, incident) is not None
        assert states.get("org-2", incident) is None  # read from the store, scoped to org-2: nothing there
    assert store.reads == 2


def test_subscribers_side_by_side_share_one_read() -> None:
    w, store, incident = world()
    states = StateSnapshots(store, written(w))
    snapshot, seen = Snapshot(), []

    def subscriber() -> None:
        with states.delivering(snapshot):
            seen.append(states.get(w.org_id, incident))

    threads = [threading.Thread(target=subscriber) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.reads == 1 and len(seen) == 4 and all(s is seen[0] for s in seen)
    assert snapshot.reads == 1


class MarksStore:
    """A fake pattern-key index: each incident's (signature, checked), its questions and marks counted."""

    def __init__(self, marks: dict[tuple[str, str], PatternMarks]) -> None:
        self.stored, self.asked, self.marked = dict(marks), 0, 0

    def recurrence_unchecked(self, org_id: str, incident_id: str, window_days: int = 30) -> bool:
        self.asked += 1
        return marks_unchecked(self.stored.get((org_id, incident_id)), window_days)

    def later_untold(self, org_id: str, incident_id: str, window_days: int = 30) -> bool:
        self.asked += 1
        return marks_untold(self.stored.get((org_id, incident_id)), window_days)

    def mark_recurrence_checked(self, org_id: str, incident_id: str, signature: str, window_days: int = 30) -> None:
        self.marked += 1
        self.stored[(org_id, incident_id)] = (signature, check_mark(signature, window_days))

    def mark_later_told(self, org_id: str, incident_id: str, signature: str, window_days: int = 30) -> None:
        self.marked += 1
        self.stored[(org_id, incident_id)] = (signature, told_mark(signature, window_days))


def test_a_claims_prefetch_answers_the_first_reads_and_the_marks_until_this_process_marks() -> None:
    w, store, incident = world()
    state = store.get(w.org_id, incident)
    assert state is not None
    store.reads = 0
    states = StateSnapshots(store, written(w))
    index = MarksStore({(w.org_id, incident): ("sig1", None)})
    history = HistorySnapshots(index)  # type: ignore[arg-type]
    snapshot = Snapshot(Prefetched(org_id=w.org_id, incident_id=incident, state=state, marks=("sig1", None)))
    with states.delivering(snapshot):
        assert states.get(w.org_id, incident) is state and store.reads == 0 and snapshot.reads == 0
        assert history.recurrence_unchecked(w.org_id, incident) and not history.later_untold("org-2", incident)
        assert index.asked == 1  # only the other org's question went to the index
        history.mark_recurrence_checked(w.org_id, incident, "sig1")
        assert not history.recurrence_unchecked(w.org_id, incident)  # asked the index again: it was just marked
        assert index.asked == 2 and index.marked == 1
        sev1(w, incident)  # this process's write: the prefetched state is stale now, its own newer one answers
        after = states.get(w.org_id, incident)
        assert after is not None and after.version == state.version + 1 and store.reads == 0
    assert history.recurrence_unchecked(w.org_id, incident) is False and index.asked == 3  # outside: the index


def test_prefetched_marks_answer_as_the_index_would() -> None:
    w, _store, incident = world()
    cases: list[PatternMarks] = [None, ("sig", None), ("sig", check_mark("sig")), ("sig", told_mark("sig")),
                                 ("sig", check_mark("sig", 7)), ("", None)]
    for marks in cases:
        index = MarksStore({(w.org_id, incident): marks})
        history = HistorySnapshots(index)  # type: ignore[arg-type]
        snapshot = Snapshot()
        snapshot.marks[(w.org_id, incident)] = marks
        for days in (30, 7):
            with StateSnapshots(Queries(w.store)).delivering(snapshot):
                answered = (history.recurrence_unchecked(w.org_id, incident, days),
                            history.later_untold(w.org_id, incident, days))
            assert answered == (index.recurrence_unchecked(w.org_id, incident, days),
                                index.later_untold(w.org_id, incident, days)), (marks, days)
