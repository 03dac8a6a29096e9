"""Text in and out of Teams: @mention commands to `/revenant` text, Slack-style replies to Teams markdown."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any

from handlers.teams.ids import BOT_NAME

_CODE = re.compile(r"(```[\s\S]*?```|`[^`\n]*`)")
_BOLD = re.compile(r"(?<![*\w])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![*\w])")
_TAG = re.compile(r"<[^>]+>")
_PREFIX = re.compile(r"^/?revenant\b\s*", re.IGNORECASE)
EMOJI = {":warning:": "⚠️", ":boom:": "💥", ":tada:": "🎉", ":rotating_light:": "🚨",
         ":white_check_mark:": "✅", ":pushpin:": "📌", ":lock:": "🔒"}
# The core's replies speak Slack (slash command, incident channel); a Teams room is a thread.
PHRASES = (("`/revenant", f"`@{BOT_NAME}"), ("/revenant", f"@{BOT_NAME}"),
           ("the incident's channel", "the incident's thread"), ("an incident's channel", "an incident's thread"),
           ("not an incident channel", "not an incident thread"),
           ("Opening its channel", "Opening its thread"))


def command_text(text: str | None, mentions: list[dict[str, Any]], bot_id: str | None) -> tuple[str, dict[str, dict]]:
    """The command typed after @Revenant, with other @mentions replaced by `@m1`, `@m2` (returned by alias)."""
    out = text or ""
    people: dict[str, dict] = {}
    for mention in mentions:
        mentioned = mention.get("mentioned") or {}
        shown = str(mention.get("text") or f"<at>{mentioned.get('name', '')}</at>")
        if mentioned.get("id") == bot_id:
            out = out.replace(shown, " ", 1)
            continue
        alias = f"m{len(people) + 1}"
        people[alias] = mentioned
        out = out.replace(shown, f" @{alias} ", 1)
    return _PREFIX.sub("", " ".join(clean(out).split())), people


def clean(text: str) -> str:
    """Markup dropped and entities decoded: what a person reads."""
    return html.unescape(_TAG.sub(" ", text)).replace("\u00a0", " ").strip()


def humanize(text: str, names: Mapping[str, str]) -> str:
    """Person ids (`teams:<id>`, and the bare `<id>` the core sometimes writes) → display names."""
    for user, name in sorted(names.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(user, name)
        bare = user.split(":", 1)[-1]
        if len(bare) >= 8:
            text = text.replace(bare, name)
    return text


def to_teams(text: str) -> str:
    """Slack mrkdwn → Teams markdown: **bold**, emoji codes, paragraph breaks; code is left alone."""
    for old, new in PHRASES:
        text = text.replace(old, new)
    parts = _CODE.split(text)
    for i in range(0, len(parts), 2):
        part = _BOLD.sub(r"**\1**", parts[i])
        for code, emoji in EMOJI.items():
            part = part.replace(code, emoji)
        parts[i] = re.sub(r"(?<!\n)\n(?!\n)", "\n\n", part)
    return "".join(parts)
