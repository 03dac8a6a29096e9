"""Adaptive Cards for guidance: suggested next steps with risk badges, citations, Run and 👍/👎 buttons."""

from __future__ import annotations

from typing import Any

from handlers.teams.cards import RISK_COLOR, card
from handlers.teams.ids import Verb
from handlers.teams.markdown import cut, escape, markdown
from incident_core import richtext as rt
from incident_core.guidance import RISK_BADGE, Guidance, Suggestion, cited_at, quoted

TRIGGER_TEXT = {"room_opened": "from runbooks and past incidents", "new_signal": "for the new kind of signal",
                "command": "as asked"}
MAX_SUGGESTIONS = 8
LIMIT = 1500


def _cut(text: str, limit: int = LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _text(markdown: str, **style: Any) -> dict[str, Any]:
    """A TextBlock of already-rendered (escaped) markdown."""
    return {"type": "TextBlock", "text": cut(markdown, LIMIT * 2), "wrap": True, **style}


def _data(text: str, **style: Any) -> dict[str, Any]:
    """A TextBlock showing outside text exactly."""
    return _text(escape(_cut(text)), **style)


def _execute(title: str, verb: Verb, data: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "Action.Execute", "title": title, "verb": verb.value, "data": data, **extra}


def suggestion_items(incident_id: str, index: int, s: Suggestion) -> list[dict[str, Any]]:
    """One step: badge and title, why, the verbatim command, policy risk and source, then its buttons."""
    items = [_text(f"{RISK_BADGE.get(s.risk, '⚪')} **{escape(_cut(f'{index}. {s.title}', 300))}**"),
             _data(s.why, spacing="None")]
    if s.quote:  # the runbook's or model's words, quoted under the policy's title
        items.append(_text(markdown(rt.doc(rt.para(quoted(s)))), isSubtle=True, spacing="None"))
    if s.command:
        items.append(_data(s.command, fontType="Monospace"))
    items.append(_data(f"{s.risk.upper()} — {s.risk_reason}", size="Small", color=RISK_COLOR.get(s.risk, "default")))
    items.append(_text(markdown(rt.doc(rt.para("Source: ", s.source, *cited_at(s),
                                               f" · confidence {s.confidence:.2f}"))),
                       size="Small", isSubtle=True, spacing="None"))
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
        return card([_data(f"🤷 {guidance.message}")])
    body: list[dict[str, Any]] = [
        _data(f"Suggested next steps for {human_id} {TRIGGER_TEXT.get(trigger, '')}", weight="Bolder",
              size="Medium"),
        _data("Every step cites its source; commands are quoted verbatim; risk comes from policy. Runs are "
              f"simulated. Engine: {guidance.engine}", size="Small", isSubtle=True)]
    for i, s in enumerate(guidance.suggestions[:MAX_SUGGESTIONS], start=1):
        body += suggestion_items(incident_id, i, s)
    if guidance.questions:
        body.append(_text("**Questions to answer**\n\n" + "\n".join(
            f"- {escape(_cut(f'{q.text} ({q.source})', 400))}" for q in guidance.questions)))
    if guidance.seen_before:
        body.append(_text("**Seen before**\n\n" + "\n".join(
            f"- **{escape(_cut(b.title, 200))}** {escape(_cut(f'({b.source}) — {b.why}; resolved by: {b.resolution}', 600))}"
            for b in guidance.seen_before)))
    return card(body)


def guidance_text(human_id: str, guidance: Guidance) -> str:
    """Notification text for the guidance reply."""
    if guidance.nothing_found:
        return escape(guidance.message[:300])
    steps = "; ".join(f"{RISK_BADGE.get(s.risk, '')} {s.title}" for s in guidance.suggestions)
    return escape(f"Suggested next steps for {human_id}: {steps}"[:300])
