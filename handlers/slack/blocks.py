"""Block Kit builders: the war-room message, App Home and the declare modal (within Slack's limits)."""

from __future__ import annotations

import json
from typing import Any

from handlers.slack.ids import ActionId, BlockId, CallbackId, InputId
from handlers.slack.mrkdwn import SlackText, context, cut, escape, escape_plain, section, unlinked
from incident_core import richtext as rt
from incident_core.model import Severity
from incident_core.state import IncidentState
from incident_core.warroom import STATUS_EMOJI, WarRoom

SECTION_LIMIT = 3000
HEADER_LIMIT = 150


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def war_room(view: WarRoom) -> list[dict[str, Any]]:
    """The pinned war-room message (every outside string escaped in handlers/slack/mrkdwn.py)."""
    say = SlackText()
    roles = " · ".join(f"*{escape(r)}*: {say.user(u, u.split(':')[-1])}" for r, u in view.roles.items()) or "_no roles yet_"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text",  # escaped first, then cut: escaping lengthens it
                                    "text": cut(escape_plain(f"{view.human_id} — {rt.one_line(view.title, 300)}"),
                                                HEADER_LIMIT)}},
        {"type": "section", "fields": [
            context(f"*Status*\n{STATUS_EMOJI[view.status]} {view.status.value}"),
            context(f"*Severity*\n{view.severity.value}"),
            context(cut(f"*Roles*\n{roles}", 2000)),
            context(f"*Duration*\n{escape(view.duration)}"),
        ]},
    ]
    if view.recurrence:
        blocks.append({"type": "context", "elements": [context(f":repeat: *Recurring* · {escape(view.recurrence)}")]})
    if view.all_clear:
        blocks.append(section(cut(f":white_check_mark: *{escape(view.all_clear)}*", SECTION_LIMIT)))
    if view.trend:
        blocks.append(section(cut("*Trend* " + say.inline((rt.code(view.trend),)), SECTION_LIMIT)))
    if view.highlights:
        blocks.append(section(cut("*Log highlights*\n" + "\n".join(
            f"• {say.inline((rt.code(line[:150]),))} ×{n}" for line, n in view.highlights), SECTION_LIMIT)))
    if view.signals:
        blocks.append(section(cut("*Latest signals*\n" + "\n".join(f"• {escape(s[:200])}" for s in view.signals),
                                  SECTION_LIMIT)))
    if view.actions:
        blocks.append(section(cut("*Actions*\n" + "\n".join(f"• {say.inline(a)}" for a in view.actions),
                                  SECTION_LIMIT)))
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
    blocks.append({"type": "context", "elements": [context(
        say.inline(rt.inline("Timeline captured from this channel · 📌 marks a key moment · ", rt.cmd("help"))))]})
    return blocks


def home(items: list[IncidentState], rooms: bool = True) -> dict[str, Any]:
    """App Home: the org's open incidents."""
    say = SlackText()
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": "Open incidents"}}]
    if not items:
        blocks.append(section(say.inline(rt.inline("No open incidents. ", rt.emoji("tada"), " ",
                                                   rt.cmd("declare <title>"), " opens one."))))
    for s in items[:95]:
        room = s.rooms.get("slack")
        link = (" ", rt.Room("slack", room.room_id)) if rooms and room and room.room_id else ()
        line = say.inline(rt.inline(f"{STATUS_EMOJI[s.status]} ", rt.b(s.human_id),
                                    f" {s.severity.value} · {s.status.value} — {rt.one_line(s.title, 500)}", link))
        blocks.append(section(cut(line, SECTION_LIMIT)))
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
    """Notification text for clients that do not render blocks (escaped: it is parsed like any message)."""
    return unlinked(escape(_cut(view.headline, 300)))
