"""Steps.made_here: a step's value counts as made by this attempt only when this attempt's `make` produced it
and its record stands (what lets a Slack room opening skip the look-ups in a channel it created itself)."""

from __future__ import annotations

from incident_core.delivery import Steps
from tests.core.fakes import Ledger


def test_made_by_this_attempt() -> None:
    steps = Steps(Ledger(), "org", "room:slack:i1")
    assert steps.once("channel", lambda: {"id": "C1"}) == {"id": "C1"}
    assert steps.made_here("channel")


def test_recorded_by_an_earlier_attempt_found_or_recorded_by_a_racing_one_is_not() -> None:
    ledger = Ledger()
    ledger.record("org", "room:slack:i1", "channel", {"id": "C1"})  # an earlier attempt
    earlier = Steps(ledger, "org", "room:slack:i1")
    assert earlier.once("channel", lambda: {"id": "C2"}) == {"id": "C1"} and not earlier.made_here("channel")

    found = Steps(Ledger(), "org", "room:slack:i2")
    assert found.once("message", lambda: {"ts": "2"}, lambda: {"ts": "1"}) == {"ts": "1"}
    assert not found.made_here("message")

    ledger = Ledger()
    racing = Steps(ledger, "org", "room:slack:i3")  # read before the other attempt recorded its value
    ledger.record("org", "room:slack:i3", "channel", {"id": "C9"})
    assert racing.once("channel", lambda: {"id": "C3"}) == {"id": "C9"} and not racing.made_here("channel")
