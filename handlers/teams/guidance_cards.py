"""Adaptive Cards for guidance: suggested next steps with risk badges, citations, Run and 👍/👎 buttons."""

from __future__ import annotations

from typing import Any

from handlers.teams.cards import RISK_COLOR, card
from handlers.teams.ids import Verb
from incident_core.guidance import RISK_BADGE, Guidance, Suggestion

TRIGGER_TEXT = {"room_opened": "from runbooks and past incidents", "new_signal": "for the new kind of signal",
                "command": "as asked"}
MAX_SUGGESTIONS = 8


def _text(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text if len(text) <= 1500 else text[:1499] + "…", "wrap": True, **style}


def _execute(title: str, verb: Verb, data: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "Action.Execute", "title": title, "verb": verb.value, "data": data, **extra}


def suggestion_items(incident_id: str, index: int, s: Suggestion) -> list[dict[str, Any]]:
    """One step: badge and title, why, the verbatim command, policy risk and source, then its buttons."""
    items = [_text(f"{RISK_BADGE.get(s.risk, '⚪')} **{index}. {s.title}**"), _text(s.why, spacing="None")]
    if s.quote:  # the runbook's or model's words, quoted under the policy's title
        items.append(_text(f"The {s.quote_by} says: “{' '.join(s.quote.split())[:400]}”", isSubtle=True,
                           spacing="None"))
    if s.command:
        items.append(_text(s.command, fontType="Monospace"))
    items.append(_text(f"{s.risk.upper()} — {s.risk_reason}", size="Small", color=RISK_COLOR.get(s.risk, "default")))
    items.append(_text(f"Source: {s.source} · confidence {s.confidence:.2f}", size="Small", isSubtle=True,
                       spacing="None"))
    data = {"incident_id": incident_id, "suggestion_id": s.suggestion_id}
    buttons = []
    if s.runnable:
        label = "Run (simulated) · needs approval" if s.risk == "high" else "Run (simulated)"
        buttons.append(_execute(label, Verb.RUN_SUGGESTION, data,
                                style="destructive" if s.risk == "high" else "positive"))
    buttons += [_execute("👍", Verb.SUGGESTION_FEEDBACK, {**data, "helpful": True}),
                _execute("👎", Verb.SUGGESTION_FEEDBACK, {**data, "helpful": False})]
    items.append({"type": "ActionSet", "actions": buttons})
    return [{"type": "Container", "separator": True, "spacing": "Medium", "items": items}]


def guidance_card(human_id: str, incident_id: str, guidance: Guidance, trigger: str = "command") -> dict[str, Any]:
    """The reply under the war-room card: steps that cite their sources, questions, incidents seen before."""
    if guidance.nothing_found:
        return card([_text(f"🤷 {guidance.message}")])
    body: list[dict[str, Any]] = [
        _text(f"Suggested next steps for {human_id} {TRIGGER_TEXT.get(trigger, '')}", weight="Bolder",
              size="Medium"),
        _text("Every step cites its source; commands are quoted verbatim; risk comes from policy. Runs are "
              f"simulated. Engine: {guidance.engine}", size="Small", isSubtle=True)]
    for i, s in enumerate(guidance.suggestions[:MAX_SUGGESTIONS], start=1):
        body += suggestion_items(incident_id, i, s)
    if guidance.questions:
        body.append(_text("**Questions to answer**\n\n" + "\n".join(f"- {q.text} ({q.source})"
                                                                     for q in guidance.questions)))
    if guidance.seen_before:
        body.append(_text("**Seen before**\n\n" + "\n".join(
            f"- **{b.title}** ({b.source}) — {b.why}; resolved by: {b.resolution}" for b in guidance.seen_before)))
    return card(body)


def guidance_text(human_id: str, guidance: Guidance) -> str:
    """Notification text for the guidance reply."""
    if guidance.nothing_found:
        return guidance.message[:300]
    steps = "; ".join(f"{RISK_BADGE.get(s.risk, '')} {s.title}" for s in guidance.suggestions)
    return f"Suggested next steps for {human_id}: {steps}"[:300]
