"""Block Kit builders: the war-room message, App Home and the declare modal (within Slack's limits)."""

from __future__ import annotations

import json
import re
from typing import Any

from handlers.slack.ids import ActionId, BlockId, CallbackId, InputId
from incident_core.model import Severity
from incident_core.state import IncidentState
from incident_core.warroom import STATUS_EMOJI, WarRoom

SECTION_LIMIT = 3000
_BARE_USER = re.compile(r"\b(U[A-Z0-9]{6,})\b")  # a Slack user id the core wrote without its platform
HEADER_LIMIT = 150


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _who(user: str) -> str:
    return f"<@{user.split(':', 1)[1]}>" if user.startswith("slack:") else user.split(":")[-1]


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, SECTION_LIMIT)}}


def war_room(view: WarRoom) -> list[dict[str, Any]]:
    """The pinned war-room message."""
    roles = " · ".join(f"*{r}*: {_who(u)}" for r, u in view.roles.items()) or "_no roles yet_"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(f"{view.human_id} — {view.title}", HEADER_LIMIT)}},
        {"type": "section", "fields": [
            {"type": "mrkdwn", "text": f"*Status*\n{STATUS_EMOJI[view.status]} {view.status.value}"},
            {"type": "mrkdwn", "text": f"*Severity*\n{view.severity.value}"},
            {"type": "mrkdwn", "text": f"*Roles*\n{roles}"},
            {"type": "mrkdwn", "text": f"*Duration*\n{view.duration}"},
        ]},
    ]
    if view.recurrence:
        line = view.recurrence.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f":repeat: *Recurring* · {line}"}]})
    if view.trend:
        blocks.append(_section(f"*Trend* `{view.trend}`"))
    if view.highlights:
        blocks.append(_section("*Log highlights*\n" + "\n".join(f"• `{line[:150]}` ×{n}" for line, n in view.highlights)))
    if view.signals:
        blocks.append(_section("*Latest signals*\n" + "\n".join(f"• {s[:200]}" for s in view.signals)))
    if view.actions:
        lines = (_BARE_USER.sub(r"<@\1>", a[:200]) for a in view.actions)
        blocks.append(_section("*Actions*\n" + "\n".join(f"• {line}" for line in lines)))
    buttons = [{"type": "button", "action_id": f"{ActionId.SET_STATUS}_{s.value}",
                "text": {"type": "plain_text", "text": f"{STATUS_EMOJI[s]} {s.value.capitalize()}"},
                "value": json.dumps({"i": view.incident_id, "s": s.value}),
                **({"style": "primary"} if s.value == "resolved" else {})} for s in view.next_statuses]
    if buttons:
        blocks.append({"type": "actions", "block_id": BlockId.WAR_ROOM_BUTTONS, "elements": buttons})
    blocks.append({"type": "actions", "block_id": BlockId.WAR_ROOM_SEVERITY, "elements": [
        {"type": "button", "action_id": f"{ActionId.SET_SEVERITY}_{s.value}",
         "text": {"type": "plain_text", "text": s.value}, "value": json.dumps({"i": view.incident_id, "v": s.value})}
        for s in view.severities]})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text":
                   "Timeline captured from this channel · 📌 marks a key moment · `/revenant help`"}]})
    return blocks


def home(items: list[IncidentState], rooms: bool = True) -> dict[str, Any]:
    """App Home: the org's open incidents."""
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": "Open incidents"}}]
    if not items:
        blocks.append(_section("No open incidents. :tada: `/revenant declare <title>` opens one."))
    for s in items[:95]:
        room = f" <#{s.rooms['slack']['room_id']}>" if rooms and "slack" in s.rooms else ""
        blocks.append(_section(f"{STATUS_EMOJI[s.status]} *{s.human_id}* {s.severity.value} · {s.status.value} — "
                               f"{s.title}{room}"))
    return {"type": "home", "blocks": blocks}


def declare_modal(channel_id: str | None) -> dict[str, Any]:
    """The form `/revenant declare` opens when no title is given."""
    options = [{"text": {"type": "plain_text", "text": s.value}, "value": s.value} for s in Severity]
    return {
        "type": "modal", "callback_id": CallbackId.DECLARE,
        "title": {"type": "plain_text", "text": "Declare an incident"},
        "submit": {"type": "plain_text", "text": "Declare"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": json.dumps({"channel": channel_id}),
        "blocks": [
            {"type": "input", "block_id": BlockId.DECLARE_TITLE, "label": {"type": "plain_text", "text": "Title"},
             "element": {"type": "plain_text_input", "action_id": InputId.VALUE, "max_length": 150}},
            {"type": "input", "block_id": BlockId.DECLARE_SEVERITY,
             "label": {"type": "plain_text", "text": "Severity"},
             "element": {"type": "static_select", "action_id": InputId.VALUE, "options": options,
                         "initial_option": options[2]}},
            {"type": "input", "block_id": BlockId.DECLARE_SUMMARY, "optional": True,
             "label": {"type": "plain_text", "text": "What do you see?"},
             "element": {"type": "plain_text_input", "action_id": InputId.VALUE, "multiline": True,
                         "max_length": 2000}},
        ],
    }


def fallback_text(view: WarRoom) -> str:
    """Notification text for clients that do not render blocks."""
    return _cut(view.headline, 300)
