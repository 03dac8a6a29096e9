"""Block Kit for guidance: the suggestions thread message, action approvals and simulated-run results."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from handlers.slack.ids import ActionId, BlockId
from handlers.slack.mrkdwn import SlackText, context, cut, escape, escape_plain, section, unlinked
from incident_core import richtext as rt
from incident_core.action_usecases import ActionOutcome, OutcomeStatus
from incident_core.errors import ValidationError
from incident_core.guidance import RISK_BADGE, Guidance, Suggestion, cited_at, quoted
from incident_core.state_models import ActionRecord
from incident_core.warroom import action_name

SECTION_LIMIT = 2900
SAY = SlackText()
TRIGGER_TEXT = {"room_opened": "from runbooks and past incidents",
                "new_signal": "for the new kind of signal", "command": "as asked"}


@dataclass(frozen=True)
class ButtonRef:
    """What a guidance button points at; the one typed model round-tripped through a button's `value`."""

    incident_id: str
    suggestion_id: str | None = None
    action_id: str | None = None

    def value(self) -> str:
        """The button value (JSON, well under Slack's 2000 characters)."""
        data = {"i": self.incident_id, "s": self.suggestion_id, "a": self.action_id}
        return json.dumps({k: v for k, v in data.items() if v})

    @classmethod
    def parse(cls, raw: str | None) -> ButtonRef:
        """Inverse of value(); ValidationError for anything else."""
        try:
            data = json.loads(raw or "")
            ref = cls(str(data["i"]), data.get("s"), data.get("a"))
        except (ValueError, KeyError, TypeError):
            raise ValidationError(rt.doc(rt.para("that button is not one of ours any more; run ", rt.cmd("suggest"),
                                                 " again"))) from None
        if not all(isinstance(v, str | None) for v in (ref.suggestion_id, ref.action_id)):
            raise ValidationError("that button carries an unexpected value")
        return ref


def _cut(text: str, limit: int = SECTION_LIMIT) -> str:
    return cut(text, limit)


def who(user: str | None) -> rt.Inline:
    """A person on an action: a mention for `slack:U123`, the bare name otherwise."""
    return rt.Mention(user, user.split(":")[-1]) if user else rt.Text("someone")


def badge(risk: str) -> str:
    """🟢 read-only, 🔵 low, 🟠 medium, 🔴 high."""
    return f"{RISK_BADGE.get(risk, '⚪')} {risk}"


def _section(content: rt.Rich | tuple[rt.Inline, ...]) -> dict[str, Any]:
    text = SAY.mrkdwn(content) if isinstance(content, rt.Rich) else SAY.inline(content)
    return section(_cut(text))


def _context(*parts: rt.Part | tuple[rt.Inline, ...], limit: int = 1900) -> dict[str, Any]:
    return context(_cut(SAY.inline(rt.inline(*parts)), limit))


def _button(text: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "button", "action_id": action_id, "value": value,
                           "text": {"type": "plain_text", "text": cut(escape_plain(text), 75), "emoji": True}}
    if style:
        out["style"] = style
    return out


def run_button(incident_id: str, s: Suggestion) -> dict[str, Any]:
    """"Run (simulated)"; medium carries Slack's confirmation dialog, high says it needs an approval."""
    label = "Run (simulated) · needs approval" if s.risk == "high" else "Run (simulated)"
    button = _button(label, ActionId.SUGGESTION_RUN, ButtonRef(incident_id, s.suggestion_id).value(),
                     "danger" if s.risk == "high" else "primary" if s.risk in ("read-only", "low") else None)
    if s.risk == "medium":
        button["confirm"] = {
            "title": {"type": "plain_text", "text": "Run a medium-risk step?"},
            "text": context(_cut(SAY.mrkdwn(rt.doc(rt.lines(s.risk_reason, (rt.code(s.command or s.title),)))), 300)),
            "confirm": {"type": "plain_text", "text": "Run (simulated)"},
            "deny": {"type": "plain_text", "text": "Cancel"}, "style": "danger"}
    return button


def suggestion_blocks(incident_id: str, index: int, s: Suggestion) -> list[dict[str, Any]]:
    """One suggestion: badge, title, why, verbatim command, source; Run and 👍/👎 buttons."""
    body = rt.doc(rt.lines((f"{RISK_BADGE.get(s.risk, '⚪')} ", rt.b(f"{index}. {s.title}")), s.why),
                  rt.Quote(quoted(s)) if s.quote else None,
                  rt.CodeBlock(s.command) if s.command else None)
    blocks = [_section(body),
              {"type": "context", "elements": [
                  _context(rt.b(s.risk), f" — {s.risk_reason}"),
                  _context("Source: ", rt.code(s.source), *cited_at(s), f" · confidence {s.confidence:.2f}")]}]
    ref = ButtonRef(incident_id, s.suggestion_id).value()
    buttons = [run_button(incident_id, s)] if s.runnable else []
    buttons += [_button("👍", ActionId.SUGGESTION_UP, ref), _button("👎", ActionId.SUGGESTION_DOWN, ref)]
    blocks.append({"type": "actions", "block_id": f"{BlockId.SUGGESTION}_{s.suggestion_id}", "elements": buttons})
    return blocks


def guidance_message(human_id: str, incident_id: str, guidance: Guidance,
                     trigger: str = "command") -> tuple[str, list[dict[str, Any]]]:
    """The thread reply under the war-room message (fallback text, blocks)."""
    if guidance.nothing_found:
        shrug = rt.doc(f"🤷 {guidance.message}")
        return unlinked(_cut(SAY.mrkdwn(shrug), 3000)), [_section(shrug)]
    head = rt.inline(rt.b(f"Suggested next steps for {human_id}"), f" {TRIGGER_TEXT.get(trigger, '')}")
    blocks = [_section(head), {"type": "context", "elements": [_context(
        "Every step cites its source; commands are quoted verbatim; risk comes from policy. "
        f"Runs are simulated. Engine: {guidance.engine}")]}]
    for i, s in enumerate(guidance.suggestions, start=1):
        blocks += suggestion_blocks(incident_id, i, s)
    if guidance.questions:
        blocks.append(_section(rt.doc(rt.para(rt.b("Questions to answer")), rt.bullets(*(
            (q.text, " ", rt.em(f"({q.source})")) for q in guidance.questions)))))
    if guidance.seen_before:
        blocks.append(_section(rt.doc(rt.para(rt.b("Seen before")), rt.bullets(*(
            (rt.b(b.title), " (", rt.code(b.source), f") — {b.why}", rt.Break(), f"   resolved by: {b.resolution}")
            for b in guidance.seen_before)))))
    steps = "; ".join(f"{RISK_BADGE.get(s.risk, '')} {s.title}" for s in guidance.suggestions)
    return unlinked(_cut(escape(f"Suggested next steps for {human_id}: {steps}"), 3000)), blocks[:50]


def _action_buttons(outcome: ActionOutcome, incident_id: str) -> list[dict[str, Any]]:
    ref = ButtonRef(incident_id, action_id=outcome.action_id).value()
    if outcome.status is OutcomeStatus.AWAITING_APPROVAL:
        return [_button("Approve", ActionId.ACTION_APPROVE, ref, "primary"),
                _button("Deny", ActionId.ACTION_DENY, ref, "danger")]
    if outcome.status is OutcomeStatus.AWAITING_CONFIRMATION:
        return [_button("Confirm (simulated run)", ActionId.ACTION_CONFIRM, ref, "primary"),
                _button("Cancel", ActionId.ACTION_DENY, ref)]
    if outcome.can_undo:
        return [_button("Undo (simulated)", ActionId.ACTION_UNDO, ref)]
    return []


def outcome_name(o: ActionOutcome) -> tuple[rt.Inline, ...]:
    """The action's name (a runbook command in code)."""
    return action_name(ActionRecord(action=o.action, command=o.command, summary=o.summary))


def outcome_text(outcome: ActionOutcome) -> rt.Rich:
    """Who asked for what, at which risk, who approved, and what happened."""
    o = outcome
    what, risk = rt.b(*outcome_name(o)), badge(o.risk)
    entry = (o.state.actions.get(o.action_id) if o.state else None) or ActionRecord()
    approver = (" · approved by ", who(o.approver)) if o.approver and o.status is not OutcomeStatus.DENIED else ()
    asked = rt.inline("requested by ", who(o.requested_by), f" · risk {risk}", approver)
    source = rt.para("Source: ", rt.code(o.source)) if o.source else None
    output = rt.CodeBlock(_cut(o.output.strip(), 2000)) if o.output.strip() else None
    undo = rt.CodeBlock(_cut(o.undo_output.strip(), 1500)) if o.undo_output.strip() else None
    denied_by = who(entry.denied_by or o.approver)
    reason = f": {entry.deny_reason}" if entry.deny_reason else ""
    blocks: dict[OutcomeStatus, tuple[rt.Block | None, ...]] = {
        OutcomeStatus.EXECUTED: (rt.para("✅ Simulated run of ", what, " — ", asked), source, output),
        OutcomeStatus.FAILED: (rt.para("❌ ", what, " failed — ", asked), output),
        OutcomeStatus.AWAITING_APPROVAL: (rt.lines((f"{risk}: ", who(o.requested_by), " asked to run ", what, "."),
                                                   o.reason, ("A commander other than ", who(o.requested_by),
                                                              " must approve it.")), source),
        OutcomeStatus.AWAITING_CONFIRMATION: (rt.lines((f"{risk}: ", who(o.requested_by), ", confirm ", what, "?"),
                                                       o.reason),),
        OutcomeStatus.DENIED: (rt.para("🚫 ", what, " was denied by ", denied_by, reason, " — it will not run."),),
        OutcomeStatus.UNDONE: (rt.para("↩️ Undid ", what, " (simulated) — by ", who(entry.undone_by)), undo),
        OutcomeStatus.UNDO_FAILED: (rt.para("❌ Undoing ", what, f" failed: {_cut(o.undo_output, 500)}"),),
        OutcomeStatus.RUNNING: (rt.para("⏳ ", what, " is cleared to run — ", asked),),
    }
    return rt.doc(*blocks[o.status])


def outcome_message(outcome: ActionOutcome, incident_id: str) -> tuple[str, list[dict[str, Any]]]:
    """A thread reply for an action's new state, with Approve/Deny, Confirm or Undo where they apply."""
    content = outcome_text(outcome)
    blocks: list[dict[str, Any]] = [_section(content)]
    buttons = _action_buttons(outcome, incident_id)
    if buttons:
        blocks.append({"type": "actions", "block_id": f"{BlockId.ACTION}_{outcome.action_id}"[:255],
                       "elements": buttons})
    first = rt.doc(content.blocks[0]) if content.blocks else content
    return unlinked(_cut(SAY.mrkdwn(first).split("\n", 1)[0], 3000)), blocks
