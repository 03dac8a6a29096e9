"""BatchCandidates.recorded keeps each open incident's candidate as the union of its keys and its latest
signal moment: built directly, and left as it is when a signal adds nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from incident_core.candidate_bound import RecentCandidates
from incident_core.candidates import BatchCandidates
from incident_core.correlation import OpenIncident
from incident_core.model import Status
from incident_core.signals import Signal, SignalKind, SignalSeverity, SignalStatus

T0 = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
KEYS = [f"service=s{n}" for n in range(4)] + [f"fingerprint=f{n}" for n in range(4)]


class _Tx:
    """Answers the batch's one candidate lookup with the given incidents (every key's holders: it settles)."""

    def __init__(self, incidents: tuple[OpenIncident, ...]) -> None:
        self.incidents = incidents

    def recent_candidates(self, keys: Any, *, project_id: Any, per_key: int) -> RecentCandidates:
        return RecentCandidates(self.incidents)


class _State:
    def __init__(self, incident_id: str, status: Status = Status.TRIGGERED) -> None:
        self.incident_id, self.human_id, self.status = incident_id, f"INC-{incident_id}", status


def _signal(keys: list[str]) -> Signal:
    return Signal(org_id="o", project_id=None, source="generic", kind=SignalKind.ALERT, status=SignalStatus.FIRING,
                  severity=SignalSeverity.ERROR, service=None, title="t", fingerprint="fp",
                  correlation_keys=tuple(keys), starts_at=T0)


@settings(max_examples=200, deadline=None)
@given(steps=st.lists(st.tuples(st.sampled_from(["1", "2", "3"]), st.lists(st.sampled_from(KEYS), max_size=4),
                                st.integers(-5, 5), st.booleans()), max_size=12))
def test_the_pool_holds_each_incidents_key_union_and_latest_moment(
        steps: list[tuple[str, list[str], int, bool]]) -> None:
    first = OpenIncident("1", "INC-1", frozenset(KEYS[:2]), T0, T0 - timedelta(hours=1))
    pool = BatchCandidates(_Tx((first,)), [_signal(KEYS)])  # type: ignore[arg-type]
    expected = {"1": first}
    for incident_id, keys, minutes, attached in steps:
        at = T0 + timedelta(minutes=minutes)
        pool.recorded(_signal(keys), _State(incident_id), attached=attached, at=at)  # type: ignore[arg-type]
        if not attached:
            continue
        known = expected.get(incident_id)
        expected[incident_id] = OpenIncident(incident_id, f"INC-{incident_id}", frozenset(keys), at, at) \
            if known is None else replace(known, correlation_keys=known.correlation_keys | frozenset(keys),
                                          last_signal_at=max(known.last_signal_at, at))
    assert {c.incident_id: c for c in pool.for_signal(_signal(KEYS))} == \
        {i: c for i, c in expected.items() if c.correlation_keys}


def test_a_closed_incident_leaves_the_pool() -> None:
    first = OpenIncident("1", "INC-1", frozenset(KEYS[:2]), T0, T0)
    pool = BatchCandidates(_Tx((first,)), [_signal(KEYS)])  # type: ignore[arg-type]
    pool.recorded(_signal(KEYS[:1]), _State("1", Status.RESOLVED), attached=False, at=T0)  # type: ignore[arg-type]
    assert pool.for_signal(_signal(KEYS)) == []
