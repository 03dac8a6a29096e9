"""Text coming in from Teams: @mention commands to `/revenant` text, message markup to what a person reads.

Text going out is rich text rendered by handlers/teams/markdown.py, the one place Teams escaping happens.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any

_TAG = re.compile(r"<[^>]+>")
_PREFIX = re.compile(r"^/?revenant\b\s*", re.IGNORECASE)


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
    """Person ids (`teams:<id>`, and the bare `<id>` the timeline writes) → display names, in plain text."""
    for user, name in sorted(names.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(user, name)
        bare = user.split(":", 1)[-1]
        if len(bare) >= 8:
            text = text.replace(bare, name)
    return text
