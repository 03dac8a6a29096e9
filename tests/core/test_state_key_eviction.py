"""Attaching a signal past MAX_KEYS correlation keys evicts by time: the same keys, in the same order, as
`{k: t for k, t in keys.items() if t >= sorted(keys.values())[-MAX_KEYS]}` (what apply did before)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from incident_core import events as ev
from incident_core.model import Severity, Status
from incident_core.state import MAX_KEYS, IncidentState, apply

T0 = datetime(2026, 12, 7, tzinfo=UTC)


def _reference(before: dict[str, str], added: list[str], at: str) -> dict[str, str]:
    keys = dict(before)
    keys.update(dict.fromkeys(added, at))
    if len(keys) > MAX_KEYS:
        cutoff = sorted(keys.values())[-MAX_KEYS]
        keys = {k: seen for k, seen in keys.items() if seen >= cutoff}
    return keys


def _state(keys: dict[str, str]) -> IncidentState:
    declared = apply(None, ev.IncidentDeclared(
        org_id="o", incident_id="i", version=1, occurred_at=T0, actor="a", number=1, title="t",
        severity=Severity.SEV2, status=Status.TRIGGERED, project_id=None, source="signal:test", summary=""))
    return IncidentState(**{**declared.__dict__, "correlation_keys": keys})


def _attach(state: IncidentState, added: list[str], at: datetime) -> IncidentState:
    return apply(state, ev.SignalAttached(
        org_id="o", incident_id="i", version=state.version + 1, occurred_at=at, actor="a", reason="r",
        signal={"kind": "alert", "status": "firing", "fingerprint": "fp", "correlation_keys": added}))


# few distinct moments, so ties at the cutoff are common (every key at the cutoff's moment is kept)
_moments = st.integers(min_value=0, max_value=12).map(lambda s: (T0 + timedelta(seconds=s)).isoformat())


@settings(max_examples=150, deadline=None)
@given(size=st.integers(min_value=MAX_KEYS - 5, max_value=MAX_KEYS + 30), data=st.data(),
       new=st.lists(st.sampled_from([f"k{i}" for i in range(0, 260, 7)] + ["fresh-1", "fresh-2"]), max_size=12),
       at=st.integers(min_value=0, max_value=14))
def test_eviction_keeps_the_same_keys_in_the_same_order(size: int, data: st.DataObject, new: list[str],
                                                        at: int) -> None:
    before = {f"k{i}": data.draw(_moments) for i in range(size)}
    moment = T0 + timedelta(seconds=at)
    after = _attach(_state(before), new, moment)
    expected = _reference(before, new, moment.isoformat())
    assert list(after.correlation_keys.items()) == list(expected.items())


def test_the_oldest_keys_go_first_and_a_tie_at_the_cutoff_stays() -> None:
    before = {f"old{i}": (T0 + timedelta(seconds=i)).isoformat() for i in range(MAX_KEYS)}
    before["tied"] = before["old5"]
    after = _attach(_state(before), ["new-a", "new-b", "new-c", "new-d", "old0"], T0 + timedelta(minutes=5))
    kept = after.correlation_keys
    # 205 keys, old0 seen again: the 200th newest moment is old5's, so old1–old4 go and old5's tie stays too
    assert not {"old1", "old2", "old3", "old4"} & kept.keys()
    assert {"old0", "old5", "tied", "new-a", "new-d"} <= kept.keys() and len(kept) == MAX_KEYS + 1
    assert list(kept)[:3] == ["old0", "old5", "old6"]  # the survivors keep their insertion order, as before
