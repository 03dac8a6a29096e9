"""Block Kit for guidance: the suggestions thread message, action approvals and simulated-run results."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from handlers.slack.ids import ActionId, BlockId
from incident_core.action_usecases import ActionOutcome, OutcomeStatus
from incident_core.errors import ValidationError
from incident_core.guidance import RISK_BADGE, Guidance, Suggestion

SECTION_LIMIT = 2900
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
            raise ValidationError("that button is not one of ours any more; run `/revenant suggest` again") from None
        if not all(isinstance(v, str | None) for v in (ref.suggestion_id, ref.action_id)):
            raise ValidationError("that button carries an unexpected value")
        return ref


def _cut(text: str, limit: int = SECTION_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def who(user: str | None) -> str:
    """A Slack mention for `slack:U123`, the bare name otherwise."""
    if not user:
        return "someone"
    return f"<@{user.split(':', 1)[1]}>" if user.startswith("slack:") else user.split(":")[-1]


def badge(risk: str) -> str:
    """🟢 read-only, 🔵 low, 🟠 medium, 🔴 high."""
    return f"{RISK_BADGE.get(risk, '⚪')} {risk}"


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text)}}


def _button(text: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "button", "action_id": action_id, "value": value,
                           "text": {"type": "plain_text", "text": _cut(text, 75), "emoji": True}}
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
            "text": {"type": "mrkdwn", "text": _cut(f"{s.risk_reason}\n`{s.command or s.title}`", 300)},
            "confirm": {"type": "plain_text", "text": "Run (simulated)"},
            "deny": {"type": "plain_text", "text": "Cancel"}, "style": "danger"}
    return button


def source_link(s: Suggestion) -> str:
    """The citation: a link to the file at its synced commit when there is one, else the path as code.
    Both come from a repository (untrusted): the URL is percent-encoded, the text escaped for mrkdwn."""
    if s.source_url.startswith(("https://", "http://")):
        url = quote(s.source_url, safe=":/#?=&%@+,;~-._")
        text = s.source.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return f"<{url}|{text}>"
    return f"`{s.source}`"


def quoted(s: Suggestion) -> str:
    """The runbook's or model's own words as a quotation under the policy's title (never as the title)."""
    if not s.quote:
        return ""
    text = _cut(s.quote, 400).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"\n>_the {s.quote_by} says:_ “{' '.join(text.split())}”"


def suggestion_blocks(incident_id: str, index: int, s: Suggestion) -> list[dict[str, Any]]:
    """One suggestion: badge, title, why, verbatim command, source; Run and 👍/👎 buttons."""
    command = f"\n```{s.command}```" if s.command else ""
    blocks = [_section(f"{RISK_BADGE.get(s.risk, '⚪')} *{index}. {s.title}*\n{s.why}{quoted(s)}{command}"),
              {"type": "context", "elements": [
                  {"type": "mrkdwn", "text": _cut(f"*{s.risk}* — {s.risk_reason}", 1900)},
                  {"type": "mrkdwn", "text": f"Source: {source_link(s)} · confidence {s.confidence:.2f}"}]}]
    ref = ButtonRef(incident_id, s.suggestion_id).value()
    buttons = [run_button(incident_id, s)] if s.runnable else []
    buttons += [_button("👍", ActionId.SUGGESTION_UP, ref), _button("👎", ActionId.SUGGESTION_DOWN, ref)]
    blocks.append({"type": "actions", "block_id": f"{BlockId.SUGGESTION}_{s.suggestion_id}", "elements": buttons})
    return blocks


def guidance_message(human_id: str, incident_id: str, guidance: Guidance,
                     trigger: str = "command") -> tuple[str, list[dict[str, Any]]]:
    """The thread reply under the war-room message (fallback text, blocks)."""
    if guidance.nothing_found:
        return _cut(f"🤷 {guidance.message}", 3000), [_section(f"🤷 {guidance.message}")]
    head = f"*Suggested next steps for {human_id}* {TRIGGER_TEXT.get(trigger, '')}"
    blocks = [_section(head), {"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(
        "Every step cites its source; commands are quoted verbatim; risk comes from policy. "
        f"Runs are simulated. Engine: {guidance.engine}", 1900)}]}]
    for i, s in enumerate(guidance.suggestions, start=1):
        blocks += suggestion_blocks(incident_id, i, s)
    if guidance.questions:
        blocks.append(_section("*Questions to answer*\n" + "\n".join(
            f"• {q.text} _({q.source})_" for q in guidance.questions)))
    if guidance.seen_before:
        blocks.append(_section("*Seen before*\n" + "\n".join(
            f"• *{b.title}* (`{b.source}`) — {b.why}\n   resolved by: {b.resolution}" for b in guidance.seen_before)))
    steps = "; ".join(f"{RISK_BADGE.get(s.risk, '')} {s.title}" for s in guidance.suggestions)
    return _cut(f"Suggested next steps for {human_id}: {steps}", 3000), blocks[:50]


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


def outcome_text(outcome: ActionOutcome) -> str:
    """One paragraph saying who asked for what, at which risk, who approved, and what happened."""
    o = outcome
    what, risk = f"*{o.summary}*", badge(o.risk)
    entry = o.state.actions.get(o.action_id, {}) if o.state else {}
    approver = f" · approved by {who(o.approver)}" if o.approver and o.status is not OutcomeStatus.DENIED else ""
    asked = f"requested by {who(o.requested_by)} · risk {risk}{approver}"
    source = f"\nSource: `{o.source}`" if o.source else ""
    output = f"\n```{_cut(o.output.strip(), 2000)}```" if o.output.strip() else ""
    return {
        OutcomeStatus.EXECUTED: f"✅ Simulated run of {what} — {asked}{source}{output}",
        OutcomeStatus.FAILED: f"❌ {what} failed — {asked}{output}",
        OutcomeStatus.AWAITING_APPROVAL: f"{risk}: {who(o.requested_by)} asked to run {what}.\n{o.reason}\n"
        f"A commander other than {who(o.requested_by)} must approve it.{source}",
        OutcomeStatus.AWAITING_CONFIRMATION: f"{risk}: {who(o.requested_by)}, confirm {what}?\n{o.reason}",
        OutcomeStatus.DENIED: f"🚫 {what} was denied by {who(entry.get('denied_by') or o.approver)}"
        + (f": {entry['deny_reason']}" if entry.get("deny_reason") else "") + " — it will not run.",
        OutcomeStatus.UNDONE: f"↩️ Undid {what} (simulated) — by {who(entry.get('undone_by'))}"
        + (f"\n```{_cut(o.undo_output.strip(), 1500)}```" if o.undo_output.strip() else ""),
        OutcomeStatus.UNDO_FAILED: f"❌ Undoing {what} failed: {_cut(o.undo_output, 500)}",
        OutcomeStatus.RUNNING: f"⏳ {what} is cleared to run — {asked}",
    }[o.status]


def outcome_message(outcome: ActionOutcome, incident_id: str) -> tuple[str, list[dict[str, Any]]]:
    """A thread reply for an action's new state, with Approve/Deny, Confirm or Undo where they apply."""
    text = outcome_text(outcome)
    blocks: list[dict[str, Any]] = [_section(text)]
    buttons = _action_buttons(outcome, incident_id)
    if buttons:
        blocks.append({"type": "actions", "block_id": f"{BlockId.ACTION}_{outcome.action_id}"[:255],
                       "elements": buttons})
    return _cut(text.split("\n", 1)[0], 3000), blocks
