"""Rich text → Slack: the one place Slack escaping happens.

mrkdwn (messages, their `text` fallback, Block Kit sections and context) and plain text (headers,
buttons, labels, topic, purpose, bookmarks) are built here and nowhere else. Every string of a
`Text` or `Code` node is data: `&`, `<` and `>` become entities, so no `<!channel>`, `<!here>`,
`<!subteam^…>`, `<@U…>`, `<#C…>` or `<url|label>` can come from it; a word-leading `@` gets a
zero-width space after it so no `@here` is read as a broadcast; formatting markers that could open
bold, italic, strike or code get one before them. Links exist only as `Link` nodes (safe http(s)
URLs) and show their host; mentions only as `Mention` nodes whose id is a Slack user id. The core
builds those only from ids Slack itself gave us: the user of a signed request, or a person the
/revenant role command named with a mention token Slack wrote (listeners/commands.py).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from incident_core import richtext as rt
from incident_core.postmortem_render import split_text
from incident_core.richtext_markup import MarkupWriter
from incident_core.richtext_plain import inline_plain, to_plain

ZWSP = "\u200b"
COMMAND = "/revenant"
SECTION_LIMIT = 3000
TEXT_LIMIT = 3000  # the `text` fallback next to blocks is for notifications: keep it short
BLOCKS_TEXT_BUDGET = 11000  # Slack refuses messages whose blocks carry ~13k characters (msg_blocks_too_long)
_MARKERS = frozenset("*_~`")
USER_ID = re.compile(r"^[UW][A-Z0-9]{1,20}$")
_CHANNEL_ID = re.compile(r"^[CDG][A-Z0-9]{1,20}$")
_BROADCAST = re.compile(r"(?<![\w@])@(?=(?:here|channel|everyone)\b)", re.IGNORECASE)
_BARE_LINK = re.compile(r"(?<![A-Za-z0-9])(https?|www)(?=://|\.)", re.IGNORECASE)
_OUR_TOKEN = re.compile(r"(<[^<>]*>)")


def _entities(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape(text: str) -> str:
    """Outside text as mrkdwn that shows exactly that text and nothing else."""
    text = _entities(rt.clean(text))
    out: list[str] = []
    prev = "\n"
    for ch in text:
        if ch in _MARKERS and not prev.isalnum():
            out.append(ZWSP)
        out.append(ch)
        if ch == "@" and not prev.isalnum():
            out.append(ZWSP)
        prev = ch
    escaped = "".join(out)
    return re.sub(r"(^|\n)&gt;", lambda m: m.group(1) + ZWSP + "&gt;", escaped)  # a leading > quotes the line


def escape_code(text: str) -> str:
    """Text inside a code span or block: entities only (Slack does not format inside code)."""
    return _BROADCAST.sub("@" + ZWSP, _entities(rt.clean(text)))


def escape_plain(text: str) -> str:
    """Text for plain_text objects, the topic, the purpose and bookmark titles: entities, no broadcast words,
    no bare URL (Slack links those where text is not verbatim)."""
    return unlinked(_BROADCAST.sub("@" + ZWSP, _entities(rt.clean(text))))


def unlinked(mrkdwn_text: str) -> str:
    """Bare `http(s)://` and `www.` outside our own `<…>` tokens broken with a zero-width space, so Slack does
    not turn them into links in text it reads without `verbatim` (the `text` fallback, topic, purpose)."""
    parts = _OUR_TOKEN.split(mrkdwn_text)
    return "".join(p if i % 2 else _BARE_LINK.sub(lambda m: m.group(1) + ZWSP, p) for i, p in enumerate(parts))


def _url(url: str) -> str:
    return url.replace("&", "&amp;").replace("|", "%7C").replace("<", "%3C").replace(">", "%3E")


@dataclass(frozen=True)
class SlackText(MarkupWriter):
    """Renders rich text as Slack mrkdwn, Block Kit sections and plain text."""

    def user(self, user: str, name: str = "") -> str:
        """`<@U123>` for a Slack user id, else the name (or short id) as text."""
        platform, _, bare = user.partition(":")
        if platform == "slack" and USER_ID.match(bare):
            return f"<@{bare}>"
        return escape(name or (bare or platform))

    # --- how each rich-text node looks in mrkdwn (incident_core/richtext_markup.py walks them) ---------
    def text(self, text: str) -> str:
        return escape(text)

    def strong(self, inner: str) -> str:
        return f"*{inner}*"

    def emph(self, inner: str) -> str:
        return f"_{inner}_"

    def code(self, text: str) -> str:
        return code_span(text)

    def link(self, safe_url: str) -> str:
        return f"<{_url(safe_url)}|{escape_plain(rt.host_of(safe_url))}>"

    def mention(self, user: str, name: str) -> str:
        return self.user(user, name)

    def emoji(self, name: str) -> str:
        return f":{name}:" if name in rt.EMOJI else ""

    def command(self, text: str) -> str:
        return code_span(f"{COMMAND} {text}".rstrip())

    def room(self, room: rt.Room) -> str:
        if room.platform == "slack" and _CHANNEL_ID.match(room.room_id):
            return f"<#{room.room_id}>"
        return escape(f"#{room.name or room.room_id}")

    def term(self, key: str) -> str:
        return rt.TERMS[key]["slack"]

    def line_break(self) -> str:
        return "\n"

    def paragraph(self, inner: str) -> str:
        return inner

    def bullets(self, items: list[str]) -> str:
        return "\n".join("• " + item for item in items)

    def quote(self, inner: str) -> str:
        return "\n".join("> " + line for line in inner.split("\n"))

    def code_block(self, text: str) -> str:
        return code_block(text)

    def heading(self, inner: str) -> str:
        return f"*{inner}*"

    def mrkdwn(self, content: rt.Rich) -> str:
        """The document as mrkdwn, one block per line group."""
        return "\n".join(self.block(b) for b in content.blocks)

    def plain(self, content: rt.Rich | Sequence[rt.Inline]) -> str:
        """Text for plain_text fields: markup dropped, entities escaped, emoji as characters."""
        raw = to_plain(content) if isinstance(content, rt.Rich) else inline_plain(tuple(content))
        return escape_plain(raw)

    def sections(self, content: rt.Rich, *, budget: int = BLOCKS_TEXT_BUDGET) -> list[dict[str, Any]]:
        """One mrkdwn section per block (long blocks split at lines), within Slack's limits."""
        out: list[dict[str, Any]] = []
        used = 0
        for block in content.blocks:
            for chunk in _chunks(self.block(block), SECTION_LIMIT):
                if used + len(chunk) > budget or len(out) >= 49:
                    out.append(section("…"))
                    return out
                used += len(chunk)
                out.append(section(chunk))
        return out or [section(" ")]

    def message(self, content: rt.Rich) -> dict[str, Any]:
        """`text` (the notification fallback) and `blocks` of a message showing the document."""
        return {"text": unlinked(cut(self.mrkdwn(content), TEXT_LIMIT)) or " ", "blocks": self.sections(content)}


DEFAULT = SlackText()


def section(text: str) -> dict[str, Any]:
    """A section with mrkdwn text; verbatim, so Slack links no bare URL or channel name on its own."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": text or " ", "verbatim": True}}


def context(text: str) -> dict[str, Any]:
    """A context element with mrkdwn text (verbatim)."""
    return {"type": "mrkdwn", "text": text or " ", "verbatim": True}


def code_span(text: str) -> str:
    """`text` in a code span; text that would end the span early is shown escaped instead."""
    if not text or "`" in text or "\n" in text:
        return escape(text)
    return f"`{escape_code(text)}`"


def code_block(text: str) -> str:
    """A code block; a fence inside the text is broken so it cannot end the block."""
    return "```" + escape_code(text).replace("```", "`" + ZWSP + "``") + "```"


def cut(text: str, limit: int) -> str:
    """At most `limit` characters without splitting an entity (`&amp;`) or a `<…>` token."""
    if len(text) <= limit:
        return text
    end = limit - 1
    amp, lt = text.rfind("&", max(0, end - 6), end), text.rfind("<", max(0, end - 3000), end)
    if amp != -1 and ";" not in text[amp:end]:
        end = amp
    if lt != -1 and ">" not in text[lt:end]:
        end = lt
    return text[:end] + "…"


def _safe_at(line: str, limit: int) -> int:
    """Where a too-long line may be split: not inside an entity (`&amp;`) or a `<…>` token."""
    return len(cut(line, limit + 1)) - 1


def _chunks(text: str, limit: int) -> list[str]:
    return [text] if len(text) <= limit else split_text(text, limit, _safe_at)


def mrkdwn(content: rt.Rich) -> str:
    """The document as mrkdwn (see SlackText)."""
    return DEFAULT.mrkdwn(content)


def message(content: rt.Rich) -> dict[str, Any]:
    """`text` and `blocks` for chat.postMessage, respond() and friends."""
    return DEFAULT.message(content)


def plain(content: rt.Rich | Sequence[rt.Inline]) -> str:
    """Text for plain_text fields and channel metadata."""
    return DEFAULT.plain(content)
