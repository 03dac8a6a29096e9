"""When a bounded candidate lookup is certain to hold what correlation would pick (incident_core/candidate_bound.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import cast

from incident_core.candidate_bound import RecentCandidates
from incident_core.candidates import MAX_PROBED_KEYS, BatchCandidates
from incident_core.correlation import OpenIncident
from incident_core.ports import SignalTransaction
from incident_core.signals import Signal, SignalStatus

T0 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


def incident(n: int, keys: set[str], minutes: int) -> OpenIncident:
    return OpenIncident(incident_id=f"id{n}", human_id=f"INC-{n}", correlation_keys=frozenset(keys),
                        last_signal_at=T0 + timedelta(minutes=minutes), opened_at=T0)


def test_probes_that_returned_every_holder_settle_whatever_the_depth() -> None:
    assert RecentCandidates((incident(1, {"service=api"}, 5),)).settles(3)
    assert RecentCandidates(()).settles(1)


def test_keys_every_incident_shares_settle_when_the_holders_returned_rank_above_the_cut() -> None:
    """Two keys held alike by many incidents, probed 2 deep: their first holder is newer than both cuts."""
    found = (incident(1, {"alertname=a", "namespace=n"}, 50), incident(2, {"alertname=a", "namespace=n"}, 40))
    cuts = {"alertname=a": T0 + timedelta(minutes=40), "namespace=n": T0 + timedelta(minutes=40)}
    assert RecentCandidates(found, cuts).settles(1)
    assert not RecentCandidates(found, cuts).settles(2)  # a left-out holder could tie the second: 40 min


def test_a_holder_left_out_of_one_key_can_be_newest_through_another_key_of_the_batch() -> None:
    """`service=api` was probed 1 deep and returned INC-1 (seen 10 min in). A holder it left out saw service=api
    earlier, but may have seen `alertname=a` (another key of the batch) as late as that key's cut, 30 min: its last
    signal could beat INC-1's 20, so INC-1 is not certain to be the first holder of service=api."""
    found = (incident(1, {"service=api", "alertname=a"}, 20), incident(2, {"alertname=a"}, 40))
    cuts = {"service=api": T0 + timedelta(minutes=10), "alertname=a": T0 + timedelta(minutes=30)}
    assert not RecentCandidates(found, cuts).settles(1)
    # once the other key's cut is older than INC-1's last signal, nothing left out can overtake it
    assert RecentCandidates(found, {**cuts, "alertname=a": T0 + timedelta(minutes=15)}).settles(1)


def test_a_tie_with_the_cut_is_not_certain() -> None:
    """A holder left out may have seen the key at the very time of the cut, and win the tie on its id."""
    found = (incident(1, {"service=api"}, 10),)
    assert not RecentCandidates(found, {"service=api": T0 + timedelta(minutes=10)}).settles(1)


class _Lookups:
    """A transaction that records which lookup BatchCandidates asks for (both answer: nothing is open)."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, int]] = []

    def recent_candidates(self, keys: Sequence[str], *, project_id: str | None, per_key: int) -> RecentCandidates:
        self.asked.append(("bounded", len(keys)))
        return RecentCandidates(())

    def open_incidents(self, keys: Sequence[str], *, project_id: str | None,
                       since: datetime | None) -> list[OpenIncident]:
        self.asked.append(("full", len(keys)))
        return []


def _batch(signals: int, keys_each: int) -> list[Signal]:
    return [cast(Signal, SimpleNamespace(project_id=None, status=SignalStatus.FIRING, correlation_keys=frozenset(
        f"fingerprint={n}-{k}" for k in range(keys_each)))) for n in range(signals)]


def test_a_batch_with_many_keys_reads_the_full_lookup_at_once() -> None:
    """An Alertmanager group's keys are probes of their own and one cut sends the batch to the full lookup after
    them; past MAX_PROBED_KEYS the full lookup is read directly (one statement), below it the bounded one."""
    for signals, expected in ((2, "bounded"), (50, "full")):
        tx = _Lookups()
        pool = BatchCandidates(cast(SignalTransaction, tx), _batch(signals, 5))
        assert pool.for_signal(_batch(1, 5)[0]) == []
        assert tx.asked == [(expected, signals * 5)]
    assert 2 * 5 <= MAX_PROBED_KEYS < 50 * 5
