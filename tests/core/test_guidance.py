"""Guidance in the domain, pure: when it is due, what an offer records, feedback rules, the war-room lines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from incident_core import commands as cmd
from incident_core.aggregate import decide
from incident_core.errors import InvalidTransition, NotFound
from incident_core.events import Event
from incident_core.guidance import Guidance, Question, Suggestion, covers, guidance_due, render_lines
from incident_core.guidance_decisions import GiveSuggestionFeedback, OfferGuidance
from incident_core.richtext_plain import inline_plain
from incident_core.state import IncidentState, apply_all
from incident_core.state_models import ActionRecord
from incident_core.timeline import describe
from incident_core.warroom import action_line

T0 = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
ENV: dict[str, Any] = {"org_id": "o", "incident_id": "i", "occurred_at": T0}


def run(state: IncidentState | None, command: cmd.Command) -> tuple[IncidentState, list[Event]]:
    events = decide(state, command)
    return apply_all(state, events), events  # type: ignore[return-value]


def incident_with_room() -> IncidentState:
    state, _ = run(None, cmd.DeclareIncident(**ENV, actor="u:alice", number=1, title="Checkout errors"))
    assert guidance_due(state) is None  # no room yet: nowhere to post
    state, _ = run(state, cmd.RecordRoom(**ENV, actor="system", platform="slack", room_id="C1", room_name="inc",
                                         message_id="1.0"))
    return state


def signal(alert: str, service: str) -> cmd.AttachSignal:
    keys = [f"fingerprint={alert}", f"alertname+service={alert}/{service}", f"service={service}"]
    return cmd.AttachSignal(**ENV, actor="system", reason="new", signal={
        "title": alert, "service": service, "correlation_keys": keys, "kind": "alert"})


def step(sid: str, command: str = "kubectl -n shop get pods") -> Suggestion:
    return Suggestion(title="Check pods", why="runbook", source="runbooks/a.md#diagnosis", risk="read-only",
                      risk_reason="kubectl get only reads", command=command, action="runbook_command",
                      suggestion_id=sid)


def offer(state: IncidentState, trigger: str, *steps: Suggestion) -> tuple[IncidentState, list[Event]]:
    return run(state, OfferGuidance(**ENV, actor="revenant", batch_id=f"b-{trigger}", trigger=trigger,
                                    covers=covers(state), suggestions=steps))


def test_guidance_is_due_when_the_room_opens_and_again_for_a_new_kind_of_signal() -> None:
    state = incident_with_room()
    assert guidance_due(state) == "room_opened"
    state, events = offer(state, "room_opened", step("s1"))
    assert [e.type_name for e in events] == ["GuidanceOffered", "SuggestionPosted"]
    assert guidance_due(state) is None and state.suggestions["s1"].command == "kubectl -n shop get pods"
    state, _ = run(state, signal("HighErrorRate", "checkout"))
    assert guidance_due(state) == "new_signal"
    state, _ = offer(state, "new_signal", step("s2"), step("s3", "kubectl -n shop get endpoints checkout"))
    assert set(state.suggestions) == {"s1", "s3"}  # the step already suggested is not repeated
    state, _ = run(state, signal("HighErrorRate", "checkout"))
    assert guidance_due(state) is None  # same kind of signal again: nothing new to say
    state, _ = run(state, signal("HighLatency", "checkout"))
    assert guidance_due(state) == "new_signal"


def at(when: datetime) -> dict[str, Any]:
    return {**ENV, "occurred_at": when}


def test_an_offer_that_is_no_longer_due_records_nothing_but_a_command_does_when_it_says_something_new() -> None:
    state, _ = offer(incident_with_room(), "room_opened", step("s1"))
    assert offer(state, "room_opened", step("s2"))[1] == []
    state, events = offer(state, "command", step("s2", "kubectl -n shop get endpoints checkout"))
    assert [e.type_name for e in events] == ["GuidanceOffered", "SuggestionPosted"]
    assert "offered guidance (command): 1 step(s)" in describe(events[0])


def test_a_command_repeating_the_last_offer_moments_later_records_nothing_but_later_it_posts_again() -> None:
    state, _ = offer(incident_with_room(), "room_opened", step("s1"), step("s2", "kubectl get events"))
    assert state.last_offer is not None and state.last_offer.suggestion_ids == ("s1", "s2")

    def ask(when: datetime, *steps: Suggestion) -> list[Event]:
        return decide(state, OfferGuidance(**at(when), actor="u:bob", batch_id="b-cmd", trigger="command",
                                           covers=covers(state), suggestions=steps))

    same = (step("s3"), step("s4", "kubectl get events"))
    assert ask(T0 + timedelta(seconds=30), *same) == []  # the same message is right above in the thread
    assert ask(T0 + timedelta(seconds=30), *reversed(same)) != []  # re-ranked (feedback, a note): posted
    assert ask(T0 + timedelta(seconds=30), same[0]) != []
    assert ask(T0 + timedelta(minutes=2), *same) != []  # asked again later: a refresh, posted again
    moved = OfferGuidance(**at(T0 + timedelta(seconds=30)), actor="u:bob", batch_id="b-cmd", trigger="command",
                          covers=covers(state), suggestions=same, message="", questions=(
                              Question(text="Is the provider down?", source="runbooks/a.md#diagnosis"),))
    assert decide(state, moved) != []  # it asks something the last offer did not
    assert IncidentState.from_dict(state.to_dict()) == state


def test_feedback_needs_a_known_suggestion_and_records_its_source_once_per_vote() -> None:
    state, _ = offer(incident_with_room(), "room_opened", step("s1"))
    with pytest.raises(NotFound):
        run(state, GiveSuggestionFeedback(**ENV, actor="u:bob", suggestion_id="nope", helpful=True))
    state, events = run(state, GiveSuggestionFeedback(**ENV, actor="u:bob", suggestion_id="s1", helpful=True))
    assert events[0].payload()["source"] == "runbooks/a.md#diagnosis"
    with pytest.raises(InvalidTransition, match="already marked"):
        run(state, GiveSuggestionFeedback(**ENV, actor="u:bob", suggestion_id="s1", helpful=True))
    state, _ = run(state, GiveSuggestionFeedback(**ENV, actor="u:bob", suggestion_id="s1", helpful=False))
    assert state.suggestions["s1"].votes == {"u:bob": False}
    assert IncidentState.from_dict(state.to_dict()) == state


def test_render_lines_show_badges_and_citations() -> None:
    lines = render_lines(Guidance(suggestions=(step("s1"),)))
    assert lines[0].startswith("🟢 read-only") and "`kubectl -n shop get pods`" in lines[0]
    assert "runbooks/a.md#diagnosis" in lines[1] and "Run (simulated)" in lines[1]
    assert render_lines(Guidance(nothing_found=True, message="nothing matched")) == ["nothing matched"]


@pytest.mark.parametrize(("entry", "expected"), [
    ({"status": "awaiting_approval", "risk": "high", "summary": "roll back deployment checkout",
      "requested_by": "slack:U1"}, "🔴 roll back deployment checkout [high] — awaiting a commander's approval (by U1)"),
    ({"status": "awaiting_confirmation", "risk": "medium", "action": "flush_cache", "requested_by": "u:bob"},
     "🟠 flush_cache [medium] — awaiting bob's confirmation (by bob)"),
    ({"status": "denied", "risk": "high", "summary": "fail over", "requested_by": "u:a", "denied_by": "u:dave",
      "deny_reason": "lag"}, "🔴 fail over [high] — denied by dave (lag) (by a)"),
    ({"status": "executed", "risk": "low", "summary": "restart", "requested_by": "u:a", "approver": None},
     "🔵 restart [low] — done (by a)"),
    ({"status": "approved", "risk": "high", "summary": "roll back", "requested_by": "u:bob", "approver": "u:alice"},
     "🔴 roll back [high] — approved, running (by bob, approved by alice)"),
    ({"status": "undone", "risk": "low", "summary": "scale", "requested_by": "u:a", "undone_by": "u:b"},
     "🔵 scale [low] — undone by b (by a)"),
])
def test_war_room_action_lines_understand_every_status(entry: dict[str, Any], expected: str) -> None:
    assert inline_plain(action_line(ActionRecord.from_dict(entry))) == expected
