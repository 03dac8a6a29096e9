"""Teams markdown as a person reads it, and the live tokens Teams would render (mentions, links, HTML).

Teams reads CommonMark-style markdown in message text and in Adaptive Card TextBlocks and facts:
backslash escapes and entities are text, code spans are verbatim, `[label](url)` is a link (masked when
the label is not the URL's host), a bare URL is linked, and in message text `<at>…</at>` tags and some
HTML (`<a href>`) are live. This model reports all of them, so a test that finds nothing here has found
nothing Teams could mention or link.
"""

from __future__ import annotations

import html
import re
from typing import Any

_CODE = re.compile(r"(`+)(.+?)\1", re.DOTALL)
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")
_AT = re.compile(r"<at\b[^>]*>(.*?)</at>", re.IGNORECASE | re.DOTALL)
_LINK = re.compile(r"\[([^\]\n]*)\]\(\s*<?([^)\s>]+)>?[^)]*\)")
_HREF = re.compile(r"<a\b[^>]*href\s*=\s*[\"']?([^\"'\s>]+)", re.IGNORECASE)
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
_BARE_URL = re.compile(r"(?<![\w(/\[])https?://[^\s<>()\[\]]+", re.IGNORECASE)


def visible(markdown: str) -> str:
    """The text a person sees: escapes and entities resolved, code verbatim (emphasis markers kept)."""
    parts: list[str] = []
    last = 0
    for match in _CODE.finditer(markdown):
        parts.append(html.unescape(_ESCAPED.sub(r"\1", markdown[last:match.start()])))
        parts.append(match.group(0))
        last = match.end()
    parts.append(html.unescape(_ESCAPED.sub(r"\1", markdown[last:])))
    return "".join(parts)


def tokens(markdown: str) -> list[tuple[str, str, str]]:
    """(kind, target, label) of every live mention, link and HTML tag in Teams markdown."""
    text = _ESCAPED.sub("\x00", _CODE.sub(" ", markdown))  # code and escaped characters are text
    found: list[tuple[str, str, str]] = [("mention", m.group(1), m.group(0)) for m in _AT.finditer(text)]
    found += [("link", m.group(2), m.group(1)) for m in _LINK.finditer(text)]
    found += [("link", m.group(1), "") for m in _HREF.finditer(text)]
    found += [("html", m.group(0), "") for m in _TAG.finditer(_AT.sub(" ", text))]
    found += [("link", m.group(0), "") for m in _BARE_URL.finditer(_LINK.sub(" ", text))]
    return found


def card_tokens(card: Any) -> list[tuple[str, str, str]]:
    """Live tokens of an Adaptive Card: markdown of TextBlocks and facts, Action.OpenUrl targets."""
    out: list[tuple[str, str, str]] = []

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
            return
        if not isinstance(node, dict):
            return
        kind = node.get("type")
        if kind == "TextBlock":
            out.extend(tokens(str(node.get("text", ""))))
        if kind == "Action.OpenUrl":
            out.append(("link", str(node.get("url", "")), str(node.get("title", ""))))
        if "facts" in node:
            for fact in node.get("facts") or []:
                if isinstance(fact, dict):
                    out.extend(tokens(f"{fact.get('title', '')} {fact.get('value', '')}"))
        for key, value in node.items():
            if key not in ("text", "facts"):
                walk(value)

    walk(card)
    return out


def activity_tokens(activity: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Live tokens of a message activity: its text and every Adaptive Card attached."""
    found = tokens(str(activity.get("text") or ""))
    for attachment in activity.get("attachments") or []:
        if isinstance(attachment, dict):
            found += card_tokens(attachment.get("content"))
    return found
