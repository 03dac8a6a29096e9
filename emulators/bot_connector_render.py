"""Plain-text rendering of Bot Connector conversations (text and Adaptive Cards)."""

from __future__ import annotations

from typing import Any

from emulators.bot_connector_state import THREAD_MARK, ConnectorState
from emulators.teams_markdown import visible


def _text(activity: dict[str, Any]) -> str:
    text = visible(str(activity.get("text") or ""))
    for attachment in activity.get("attachments") or []:
        content = attachment.get("content") if isinstance(attachment, dict) else None
        if isinstance(content, dict):
            text += ("\n" if text else "") + "\n".join(_card_lines(content))
    return text


def _card_lines(card: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for element in card.get("body") or []:
        if not isinstance(element, dict):
            continue
        kind = element.get("type")
        if kind == "TextBlock":
            lines.append(visible(str(element.get("text", ""))))
        elif kind == "FactSet":
            lines.extend(visible(f"{f.get('title')}: {f.get('value')}") for f in element.get("facts", []))
        elif kind in ("Container", "Column"):
            lines.extend(_card_lines({"body": element.get("items", [])}))
        elif kind == "ColumnSet":
            for column in element.get("columns", []):
                lines.extend(_card_lines({"body": column.get("items", [])}))
        elif kind and kind.startswith("Input."):
            lines.append(
                f"{element.get('label') or element.get('id')}: [{element.get('value') or element.get('placeholder') or ''}]"
            )
    actions = [f"[{a.get('title')}]" for a in card.get("actions") or [] if isinstance(a, dict)]
    if actions:
        lines.append(" ".join(actions))
    return lines


def render(state: ConnectorState, conversation_id: str) -> str:
    """A conversation (or every thread of a channel) as a Teams user would read it."""
    lines: list[str] = []
    channel_id = conversation_id.split(THREAD_MARK, 1)[0]
    team = state.team_of_channel(channel_id)
    header = f"{team.name} › {state.channel_name(channel_id)}" if team else conversation_id
    lines.append(header)
    lines.append("─" * min(60, max(20, len(header))))
    for conv in state.related(conversation_id):
        root = conv.id.split(THREAD_MARK, 1)[1] if THREAD_MARK in conv.id else None
        for activity in conv.activities:
            if activity.get("type", "message") != "message" or activity.get("deleted"):
                continue
            author = (activity.get("from") or {}).get("name") or "bot"
            when = str(activity.get("timestamp", ""))[11:16]
            indent = "  ↳ " if root is not None and activity.get("id") != root else ""
            body = _text(activity).splitlines() or [""]
            edited = " (edited)" if activity.get("edited") else ""
            lines.append(f"{indent}[{when}] {author}: {body[0]}{edited}")
            lines.extend(("      " if indent else "    ") + line for line in body[1:])
    return "\n".join(lines) + "\n"
