"""Adaptive Cards (1.4, Universal Actions): the war room, playbook actions, the declare form, notices.

People whose Teams account is known (`accounts`: person id → (`29:` id, name)) are @mentioned in a card as in
a message: an `<at>Name</at>` tag in a TextBlock or fact, and a mention entity with the same text in the card's
`msteams.entities` (Teams matches a card's entities to its tags by text; see `mentioning`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from botbuilder.schema import Attachment

from handlers.teams.ids import BOT_NAME, InputId, Verb
from handlers.teams.markdown import Tagged, TeamsText, cut, escape
from incident_core import richtext as rt
from incident_core.action_usecases import ActionOutcome, OutcomeStatus
from incident_core.model import Severity
from incident_core.state_models import ActionRecord
from incident_core.warroom import STATUS_EMOJI, WarRoom, action_name

CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
TEXT_LIMIT = 2000
RISK_COLOR = {"read-only": "good", "low": "good", "medium": "warning", "high": "attention"}


def _cut(text: str, limit: int = TEXT_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _text(markdown: str, **style: Any) -> dict[str, Any]:
    """A TextBlock of already-rendered (escaped) markdown, cut where no code span or escape is split."""
    return {"type": "TextBlock", "text": cut(markdown, TEXT_LIMIT), "wrap": True, **style}


def _data(text: str, limit: int = TEXT_LIMIT, **style: Any) -> dict[str, Any]:
    """A TextBlock showing outside text exactly (escaped here, cut before escaping so no escape is split)."""
    return _text(escape(_cut(text, limit)), **style)


def _writer(names: Mapping[str, str] | None, accounts: Mapping[str, tuple[str, str]] | None) -> TeamsText:
    """The renderer of one card: people in `accounts` become `<at>` tags, one person per tag."""
    return TeamsText(names or {}, accounts or {}, one_per_tag=True)


def _who(say: TeamsText, user: str | None) -> str:
    """A person: an `<at>` tag when their account is known, else their escaped display name."""
    return say.mention(user, "") if user else say.person("?")


def _execute(title: str, verb: Verb, data: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "Action.Execute", "title": title, "verb": verb.value, "data": data, **extra}


def card(body: list[dict[str, Any]], actions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """An Adaptive Card with the given body and top-level actions, full width in Teams."""
    made: dict[str, Any] = {"type": "AdaptiveCard", "$schema": SCHEMA, "version": "1.4", "body": body,
                            "msteams": {"width": "Full"}}
    if actions:
        made["actions"] = actions
    return made


def _texts(node: Any) -> Iterator[str]:
    """The markdown a card shows: TextBlock texts and fact titles and values, anywhere in it."""
    if isinstance(node, list):
        for item in node:
            yield from _texts(item)
    elif isinstance(node, dict):
        if node.get("type") == "TextBlock":
            yield str(node.get("text", ""))
        for fact in node.get("facts") or []:
            if isinstance(fact, dict):
                yield from (str(fact.get("title", "")), str(fact.get("value", "")))
        for key, value in node.items():
            if key not in ("text", "facts"):
                yield from _texts(value)


def mentioning(made: dict[str, Any], tagged: list[Tagged]) -> dict[str, Any]:
    """The card with a mention entity in `msteams.entities` for each distinct `<at>` tag its text still holds
    (a TextBlock cut to its limit may have dropped one; then that entity is left out too)."""
    if not tagged:
        return made
    shown = list(_texts(made.get("body")))
    entities: list[dict[str, Any]] = []
    for t in tagged:
        if all(e["text"] != t.tag for e in entities) and any(t.tag in text for text in shown):
            entities.append({"type": "mention", "text": t.tag, "mentioned": {"id": t.teams_id, "name": t.name}})
    if entities:
        made["msteams"] = {**made.get("msteams", {}), "entities": entities}
    return made


def attachment(content: dict[str, Any]) -> Attachment:
    """The card as a message attachment."""
    return Attachment(content_type=CONTENT_TYPE, content=content)


def war_room(view: WarRoom, names: Mapping[str, str] | None = None,
             accounts: Mapping[str, tuple[str, str]] | None = None) -> dict[str, Any]:
    """The war-room card at the root of the incident's thread, updated in place (people by name, @mentioned when
    their account is in `accounts`)."""
    say = _writer(names, accounts)
    roles = " · ".join(f"{escape(r)}: {_who(say, u)}" for r, u in view.roles.items()) or "no roles yet"
    body: list[dict[str, Any]] = [
        _data(f"{view.human_id} — {view.title}", size="Large", weight="Bolder"),
        {"type": "FactSet", "facts": [
            {"title": "Status", "value": f"{STATUS_EMOJI[view.status]} {view.status.value}"},
            {"title": "Severity", "value": view.severity.value},
            {"title": "Roles", "value": cut(roles, 300)},
            {"title": "Duration", "value": escape(view.duration)}]},
    ]
    if view.recurrence:
        body.append(_text(f"🔁 **Recurring** · {escape(view.recurrence)}", color="Warning"))
    if view.all_clear:
        body.append(_text(f"✅ **{escape(view.all_clear)}**", color="Good"))
    if view.trend:
        body.append(_data(f"Trend: {view.trend}", fontType="Monospace"))
    sections = (("Log highlights", [escape(f"{line[:150]} ×{n}") for line, n in view.highlights]),
                ("Latest signals", [escape(s[:200]) for s in view.signals]),
                ("Actions", [say.inline(a) for a in view.actions]))
    for title, lines in sections:
        if lines:
            body.append(_text(f"**{title}**\n\n" + "\n".join(f"- {line}" for line in lines)))
    data = {"incident_id": view.incident_id}
    statuses = [_execute(f"{STATUS_EMOJI[s]} {s.value.capitalize()}", Verb.SET_STATUS, {**data, "status": s.value},
                         **({"style": "positive"} if s.value == "resolved" else {})) for s in view.next_statuses]
    if statuses:
        body.append({"type": "ActionSet", "id": "war_room_status", "actions": statuses})
    body.append({"type": "ActionSet", "id": "war_room_severity", "actions": [
        _execute(s.value, Verb.SET_SEVERITY, {**data, "severity": s.value}) for s in view.severities]})
    body.append(_text(f"Timeline captured from this thread · 📌 marks a key moment · @{BOT_NAME} help",
                      size="Small", isSubtle=True))
    return mentioning(card(body), say.tagged)


_STATUS_LINE = {
    OutcomeStatus.EXECUTED: "✅ Ran", OutcomeStatus.FAILED: "❌ Failed", OutcomeStatus.RUNNING: "▶️ Cleared to run",
    OutcomeStatus.UNDONE: "↩️ Undone", OutcomeStatus.UNDO_FAILED: "⚠️ Undo failed",
}


def status_line(o: ActionOutcome) -> tuple[rt.Inline, ...]:
    """Where an action stands, in a line."""
    if o.status is OutcomeStatus.AWAITING_CONFIRMATION:
        return rt.inline("⏳ Medium risk: waiting for ", rt.mention(o.requested_by), " to confirm")
    if o.status is OutcomeStatus.AWAITING_APPROVAL:
        return rt.inline("⏳ High risk: waiting for a commander other than ", rt.mention(o.requested_by), " to approve")
    if o.status is OutcomeStatus.DENIED:
        return rt.inline("🚫 Denied by ", rt.mention(o.approver))
    approved = o.approver and o.status is OutcomeStatus.EXECUTED
    return rt.inline(_STATUS_LINE[o.status], (" (approved by ", rt.mention(o.approver), ")") if approved else ())


def outcome_name(o: ActionOutcome, names: Mapping[str, str] | None = None) -> str:
    """The action's name as markdown (a runbook command in code)."""
    return TeamsText(names or {}).inline(action_name(ActionRecord(action=o.action, command=o.command,
                                                                   summary=o.summary)))


def action_card(outcome: ActionOutcome, incident_id: str, names: Mapping[str, str] | None = None,
                accounts: Mapping[str, tuple[str, str]] | None = None) -> dict[str, Any]:
    """One playbook action: risk badge, exact command, citation, status and the buttons its gate allows (the
    people it waits for @mentioned when their account is in `accounts`)."""
    o, say = outcome, _writer(names, accounts)
    body: list[dict[str, Any]] = [
        _data(f"🛠 {o.summary}", weight="Bolder", size="Medium"),
        _data(f"{o.risk.upper()} RISK — {o.reason}", color=RISK_COLOR.get(o.risk, "default"), weight="Bolder"),
    ]
    if o.command:
        body.append(_data(o.command, fontType="Monospace"))
    facts = [{"title": "Requested by", "value": _who(say, o.requested_by)},
             {"title": "Status", "value": say.inline(status_line(o))}]
    if o.source:
        facts.append({"title": "Source", "value": escape(_cut(o.source, 300))})
    if o.undo:
        facts.append({"title": "Undo", "value": escape(_cut(o.undo, 300))})
    body.append({"type": "FactSet", "facts": facts})
    for label, text in (("Output", o.output), ("Undo output", o.undo_output)):
        if text:
            body.append(_text(f"**{label}**", spacing="Medium"))
            body.append(_data(text, 1500, fontType="Monospace", size="Small"))
    data = {"incident_id": incident_id, "action_id": o.action_id}
    buttons = {
        OutcomeStatus.AWAITING_CONFIRMATION: [_execute("Confirm and run", Verb.CONFIRM_ACTION, data, style="positive"),
                                              _execute("Cancel", Verb.DENY_ACTION, data)],
        OutcomeStatus.AWAITING_APPROVAL: [_execute("Approve and run", Verb.APPROVE_ACTION, data, style="positive"),
                                          _execute("Deny", Verb.DENY_ACTION, data, style="destructive")],
    }.get(o.status, [])
    if o.can_undo:
        buttons = [_execute("Undo", Verb.UNDO_ACTION, data)]
    return mentioning(card(body, buttons), say.tagged)


def declare_form() -> dict[str, Any]:
    """What `@Revenant declare` (no title) answers with: title and severity, then Declare."""
    choices = [{"title": s.value, "value": s.value} for s in Severity]
    return card([
        _text("Declare an incident", size="Medium", weight="Bolder"),
        {"type": "Input.Text", "id": InputId.TITLE.value, "label": "Title", "isRequired": True, "maxLength": 150,
         "errorMessage": "Give the incident a short title."},
        {"type": "Input.ChoiceSet", "id": InputId.SEVERITY.value, "label": "Severity", "value": "SEV3",
         "choices": choices},
    ], [_execute("Declare", Verb.DECLARE, {})])


def notice(content: rt.Rich, names: Mapping[str, str] | None = None,
           accounts: Mapping[str, tuple[str, str]] | None = None) -> dict[str, Any]:
    """A one-paragraph card (what a submitted form turns into)."""
    say = _writer(names, accounts)
    return mentioning(card([_text(say.markdown(content))]), say.tagged)


def fallback_text(view: WarRoom) -> str:
    """Notification text for clients that show no card (activity feed, notifications)."""
    return escape(_cut(view.headline, 300))
