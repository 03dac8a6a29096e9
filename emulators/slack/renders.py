"""What Slack would render as live tokens: broadcasts, mentions, channel links and links, per API call.

Slack reads `<!here>`, `<!channel>`, `<!everyone>`, `<!subteam^S…>`, `<@U…>`, `<#C…>` and `<url|label>`
in message text, mrkdwn text objects, the topic and the purpose. Where text is not marked `verbatim`
(message `text`, the topic, the purpose, and mrkdwn objects without `verbatim: true`) it also links bare
URLs and may read a bare `@here`; this model counts those too, so a test that finds nothing here has
found nothing Slack could ping or link. plain_text objects are never parsed. Entities (`&lt;`) are text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")
_BARE_BROADCAST = re.compile(r"(?<![\w@])@(here|channel|everyone)\b(?!\u200b)", re.IGNORECASE)
_BARE_URL = re.compile(r"(?<![\w<|/])(?:https?://|www\.)[^\s<>|]+", re.IGNORECASE)
RENDERING_METHODS = frozenset({"chat.postMessage", "chat.postEphemeral", "chat.update", "chat.scheduleMessage",
                               "conversations.setTopic", "conversations.setPurpose", "bookmarks.add",
                               "bookmarks.edit", "views.open", "views.update", "views.push", "views.publish"})


@dataclass(frozen=True)
class Rendered:
    """One live token: `kind` is broadcast, user, usergroup, channel or link."""

    method: str
    channel: str | None
    kind: str
    target: str
    label: str = ""


def tokens(text: str, *, verbatim: bool = False) -> list[tuple[str, str, str]]:
    """(kind, target, label) of every live token in mrkdwn text."""
    found: list[tuple[str, str, str]] = []
    for match in _TOKEN.finditer(text):
        target, label = match.group(1), match.group(2) or ""
        if target.startswith("!subteam^"):
            found.append(("usergroup", target[9:], label))
        elif target.startswith("!date^"):
            continue
        elif target.startswith("!"):
            found.append(("broadcast", target[1:].split("^")[0], label))
        elif target.startswith("@"):
            found.append(("user", target[1:], label))
        elif target.startswith("#"):
            found.append(("channel", target[1:], label))
        else:
            found.append(("link", target, label))
    if not verbatim:
        bare = _TOKEN.sub(" ", text)
        found += [("broadcast", m.group(1).lower(), "") for m in _BARE_BROADCAST.finditer(bare)]
        found += [("link", m.group(0), "") for m in _BARE_URL.finditer(bare)]
    return found


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def _walk(node: Any, out: list[tuple[str, str, str]]) -> None:
    if isinstance(node, list):
        for item in node:
            _walk(item, out)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("type")
    if kind == "mrkdwn" and isinstance(node.get("text"), str):
        out.extend(tokens(node["text"], verbatim=bool(node.get("verbatim"))))
        return
    if kind == "broadcast":
        out.append(("broadcast", str(node.get("range", "")), ""))
    elif kind == "user":
        out.append(("user", str(node.get("user_id", "")), ""))
    elif kind == "usergroup":
        out.append(("usergroup", str(node.get("usergroup_id", "")), ""))
    elif kind == "channel" and "channel_id" in node:
        out.append(("channel", str(node.get("channel_id", "")), ""))
    elif kind == "link" and "url" in node:
        out.append(("link", str(node["url"]), str(node.get("text") or "")))
    elif kind == "button" and node.get("url"):
        out.append(("link", str(node["url"]), str((node.get("text") or {}).get("text", ""))))
    for key, value in node.items():
        if key != "text" or not isinstance(value, str):
            _walk(value, out)


def blocks_tokens(blocks: Any) -> list[tuple[str, str, str]]:
    """Live tokens in Block Kit blocks (mrkdwn objects, rich text elements, link buttons)."""
    out: list[tuple[str, str, str]] = []
    _walk(_json(blocks), out)
    return out


def call_tokens(method: str, args: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Live tokens of one Web API call that puts something on screen."""
    if method in ("conversations.setTopic", "conversations.setPurpose"):
        return tokens(str(args.get("topic") or args.get("purpose") or ""))
    if method in ("bookmarks.add", "bookmarks.edit"):
        link = str(args.get("link") or "")
        return [("link", link, str(args.get("title") or ""))] + tokens(str(args.get("title") or ""))
    if method.startswith("views."):
        view = _json(args.get("view")) or {}
        return blocks_tokens(view.get("blocks") if isinstance(view, dict) else None)
    return tokens(str(args.get("text") or "")) + blocks_tokens(args.get("blocks"))


def record(method: str, channel: str | None, found: list[tuple[str, str, str]]) -> list[Rendered]:
    """The tokens as Rendered entries."""
    return [Rendered(method, channel, kind, target, label) for kind, target, label in found]
