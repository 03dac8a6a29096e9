"""Text arriving from Slack (slash command text, captured messages) as plain text: Slack's markup read once.

Slack escapes `&`, `<` and `>` and writes people, channels, groups, broadcasts and links as `<…>` tokens.
The core takes plain text: a person becomes `@U123` (so `/revenant role scribe @dana` still names dana's
id), a channel `#name`, a group `@group`, a broadcast `@here`, a link its URL, and entities their
characters. Whatever it says is data from here on and is escaped again when shown.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")


def _token(match: re.Match[str]) -> str:
    target, label = match.group(1), match.group(2)
    if target.startswith("@"):
        return "@" + target[1:]
    if target.startswith("#"):
        return "#" + (label or target[1:])
    if target.startswith("!subteam^"):
        return label or "@group"
    if target.startswith("!date^"):
        return label or ""
    if target.startswith("!"):
        return "@" + target[1:].split("^")[0]
    return f"{label} ({target})" if label and label != target else target


def mentioned(text: str | None) -> set[str]:
    """The user ids Slack itself wrote as mention tokens (`<@U123|name>`): people it knows in this workspace."""
    return {m.group(1)[1:] for m in _TOKEN.finditer(text or "") if m.group(1).startswith("@")}


def plain_text(text: str | None) -> str:
    """Slack message or command text as the plain text a person typed."""
    if not text:
        return ""
    return _TOKEN.sub(_token, text).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
