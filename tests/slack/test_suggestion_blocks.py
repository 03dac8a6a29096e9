"""Guidance Block Kit, pure: within Slack's limits, typed button values, every action state rendered."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from emulators.slack.blocks import validate_blocks
from handlers.slack import suggestion_blocks as sb
from incident_core.action_usecases import ActionOutcome, OutcomeStatus
from incident_core.errors import ValidationError
from incident_core.guidance import Guidance, Question, SeenBefore, Suggestion

STEP = Suggestion(title="Check pods", why="Checkout 5xx › Diagnosis: matches checkout", risk="read-only",
                  source="runbooks/checkout-5xx.md#diagnosis", risk_reason="kubectl get only reads",
                  command="kubectl -n shop get pods", action="runbook_command", suggestion_id="s1", confidence=0.8)
DONE = ActionOutcome(action_id="sg-s1", status=OutcomeStatus.EXECUTED, action="scale_deployment",
                     summary="scale deployment checkout from 3 to 6 replicas", risk="low", reason="scale up",
                     command="kubectl scale …", requested_by="slack:U1", approver=None, output="scaled\n[simulated]",
                     undo="kubectl scale … --replicas=3", can_undo=True)


def test_a_full_guidance_message_stays_within_slack_limits() -> None:
    steps = tuple(replace(STEP, suggestion_id=f"s{i}", risk=risk, command="x " * 2000, title="t" * 400)
                  for i, risk in enumerate(["read-only", "low", "medium", "high", "medium"]))
    guidance = Guidance(suggestions=steps, questions=(Question("Is it one region?", "a.md#b"),) * 3,
                        seen_before=(SeenBefore("INC-3", "incidents/INC-3", "incident", "same alert", "rolled back"),))
    text, blocks = sb.guidance_message("INC-1", "i1", guidance, "room_opened")
    assert validate_blocks(blocks) == [] and len(text) <= 3000
    rendered = json.dumps(blocks, ensure_ascii=False)
    for badge in ("🟢", "🔵", "🟠", "🔴"):
        assert badge in rendered
    medium = [e for b in blocks if b["type"] == "actions" for e in b["elements"] if "confirm" in e]
    assert len(medium) == 2 and all(len(e["confirm"]["text"]["text"]) <= 300 for e in medium)
    nothing = sb.guidance_message("INC-1", "i1", Guidance(nothing_found=True, message="nothing matched"))[1]
    assert validate_blocks(nothing) == [] and "nothing matched" in json.dumps(nothing)


def test_button_values_round_trip_through_one_typed_model() -> None:
    ref = sb.ButtonRef("i1", suggestion_id="s1")
    assert sb.ButtonRef.parse(ref.value()) == ref
    for bad in ("", "not json", '{"s": "x"}', '{"i": "a", "s": 5}'):
        with pytest.raises(ValidationError):
            sb.ButtonRef.parse(bad)


@pytest.mark.parametrize(("status", "starts", "actions"), [
    (OutcomeStatus.EXECUTED, "✅ Simulated run of", {"revenant_action_undo"}),
    (OutcomeStatus.AWAITING_APPROVAL, "🔵 low", {"revenant_action_approve", "revenant_action_deny"}),
    (OutcomeStatus.AWAITING_CONFIRMATION, "🔵 low", {"revenant_action_confirm", "revenant_action_deny"}),
    (OutcomeStatus.DENIED, "🚫", set()),
    (OutcomeStatus.FAILED, "❌", set()),
    (OutcomeStatus.RUNNING, "⏳", set()),
])
def test_outcome_messages_offer_the_next_step(status: OutcomeStatus, starts: str, actions: set[str]) -> None:
    outcome = replace(DONE, status=status, can_undo=status is OutcomeStatus.EXECUTED)
    text, blocks = sb.outcome_message(outcome, "i1")
    assert text.startswith(starts) and validate_blocks(blocks) == []
    got = {e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]}
    assert got == actions
    if status is OutcomeStatus.EXECUTED:
        assert "requested by <@U1>" in text and "[simulated]" in json.dumps(blocks)


def test_a_synced_source_is_cited_as_a_link_to_its_commit_and_its_text_is_escaped() -> None:
    from incident_core.guidance import Suggestion

    def source_line(s: Suggestion) -> str:
        blocks = sb.suggestion_blocks("i1", 1, s)
        return next(e["text"] for b in blocks if b["type"] == "context" for e in b["elements"]
                    if e["text"].startswith("Source: "))

    plain = Suggestion(title="t", why="w", source="runbooks/a.md#fix", risk="low", risk_reason="r")
    assert source_line(plain).startswith("Source: `runbooks/a.md#fix` · confidence")
    linked = Suggestion(title="t", why="w", source="a<b>|&.md#fix", risk="low", risk_reason="r",
                        source_url="https://github.com/acme/rb/blob/0a1b/docs/a<b>|&.md#fix")
    assert source_line(linked).startswith(
        "Source: `a&lt;b&gt;|&amp;.md#fix` <https://github.com/acme/rb/blob/0a1b/docs/a%3Cb%3E%7C&amp;.md#fix|github.com>")
    odd = Suggestion(title="t", why="w", source="a.md", risk="low", risk_reason="r", source_url="javascript:alert(1)")
    assert source_line(odd).startswith("Source: `a.md` · confidence")
