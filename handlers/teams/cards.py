"""Adaptive Cards (1.4, Universal Actions): the war room, playbook actions, the declare form, notices."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botbuilder.schema import Attachment

from handlers.teams.ids import BOT_NAME, InputId, Verb
from handlers.teams.text import humanize
from incident_core.action_usecases import ActionOutcome, OutcomeStatus
from incident_core.model import Severity
from incident_core.warroom import STATUS_EMOJI, WarRoom

CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
TEXT_LIMIT = 2000
RISK_COLOR = {"read-only": "good", "low": "good", "medium": "warning", "high": "attention"}


def _cut(text: str, limit: int = TEXT_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _text(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": _cut(text), "wrap": True, **style}


def _who(user: str | None, names: Mapping[str, str] | None = None) -> str:
    return (names or {}).get(user or "") or (user or "?").split(":", 1)[-1]


def _execute(title: str, verb: Verb, data: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "Action.Execute", "title": title, "verb": verb.value, "data": data, **extra}


def card(body: list[dict[str, Any]], actions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """An Adaptive Card with the given body and top-level actions, full width in Teams."""
    made: dict[str, Any] = {"type": "AdaptiveCard", "$schema": SCHEMA, "version": "1.4", "body": body,
                            "msteams": {"width": "Full"}}
    if actions:
        made["actions"] = actions
    return made


def attachment(content: dict[str, Any]) -> Attachment:
    """The card as a message attachment."""
    return Attachment(content_type=CONTENT_TYPE, content=content)


def war_room(view: WarRoom, names: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The war-room card at the root of the incident's thread, updated in place (people by name when known)."""
    roles = " · ".join(f"{r}: {_who(u, names)}" for r, u in view.roles.items()) or "no roles yet"
    body: list[dict[str, Any]] = [
        _text(f"{view.human_id} — {view.title}", size="Large", weight="Bolder"),
        {"type": "FactSet", "facts": [
            {"title": "Status", "value": f"{STATUS_EMOJI[view.status]} {view.status.value}"},
            {"title": "Severity", "value": view.severity.value},
            {"title": "Roles", "value": _cut(roles, 300)},
            {"title": "Duration", "value": view.duration}]},
    ]
    if view.recurrence:
        body.append(_text(f"🔁 **Recurring** · {view.recurrence}", color="Warning"))
    if view.trend:
        body.append(_text(f"Trend: {view.trend}", fontType="Monospace"))
    sections = (("Log highlights", [f"{line[:150]} ×{n}" for line, n in view.highlights]),
                ("Latest signals", [s[:200] for s in view.signals]),
                ("Actions", [humanize(a, names or {})[:200] for a in view.actions]))
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
    return card(body)


_STATUS_LINE = {
    OutcomeStatus.EXECUTED: "✅ Ran", OutcomeStatus.FAILED: "❌ Failed", OutcomeStatus.RUNNING: "▶️ Cleared to run",
    OutcomeStatus.UNDONE: "↩️ Undone", OutcomeStatus.UNDO_FAILED: "⚠️ Undo failed",
}


def status_text(o: ActionOutcome, names: Mapping[str, str] | None = None) -> str:
    """Where an action stands, in a line."""
    if o.status is OutcomeStatus.AWAITING_CONFIRMATION:
        return f"⏳ Medium risk: waiting for {_who(o.requested_by, names)} to confirm"
    if o.status is OutcomeStatus.AWAITING_APPROVAL:
        return f"⏳ High risk: waiting for a commander other than {_who(o.requested_by, names)} to approve"
    if o.status is OutcomeStatus.DENIED:
        return f"🚫 Denied by {_who(o.approver, names)}"
    line = _STATUS_LINE[o.status]
    approved = o.approver and o.status is OutcomeStatus.EXECUTED
    return line + (f" (approved by {_who(o.approver, names)})" if approved else "")


def action_card(outcome: ActionOutcome, incident_id: str, names: Mapping[str, str] | None = None) -> dict[str, Any]:
    """One playbook action: risk badge, exact command, citation, status and the buttons its gate allows."""
    o = outcome
    body: list[dict[str, Any]] = [
        _text(f"🛠 {o.summary}", weight="Bolder", size="Medium"),
        _text(f"{o.risk.upper()} RISK — {o.reason}", color=RISK_COLOR.get(o.risk, "default"), weight="Bolder"),
    ]
    if o.command:
        body.append(_text(o.command, fontType="Monospace"))
    facts = [{"title": "Requested by", "value": _who(o.requested_by, names)},
             {"title": "Status", "value": status_text(o, names)}]
    if o.source:
        facts.append({"title": "Source", "value": _cut(o.source, 300)})
    if o.undo:
        facts.append({"title": "Undo", "value": _cut(o.undo, 300)})
    body.append({"type": "FactSet", "facts": facts})
    for label, text in (("Output", o.output), ("Undo output", o.undo_output)):
        if text:
            body.append(_text(f"**{label}**", spacing="Medium"))
            body.append(_text(_cut(text, 1500), fontType="Monospace", size="Small"))
    data = {"incident_id": incident_id, "action_id": o.action_id}
    buttons = {
        OutcomeStatus.AWAITING_CONFIRMATION: [_execute("Confirm and run", Verb.CONFIRM_ACTION, data, style="positive"),
                                              _execute("Cancel", Verb.DENY_ACTION, data)],
        OutcomeStatus.AWAITING_APPROVAL: [_execute("Approve and run", Verb.APPROVE_ACTION, data, style="positive"),
                                          _execute("Deny", Verb.DENY_ACTION, data, style="destructive")],
    }.get(o.status, [])
    if o.can_undo:
        buttons = [_execute("Undo", Verb.UNDO_ACTION, data)]
    return card(body, buttons)


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


def notice(text: str) -> dict[str, Any]:
    """A one-paragraph card (what a submitted form turns into)."""
    return card([_text(text)])


def fallback_text(view: WarRoom) -> str:
    """Notification text for clients that show no card (activity feed, notifications)."""
    return _cut(view.headline, 300)
