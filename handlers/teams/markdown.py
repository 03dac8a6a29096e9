"""Rich text → Teams markdown (message text and Adaptive Card TextBlocks): the one place Teams escaping happens.

Teams reads a subset of CommonMark in TextBlocks and message text, plus `<at>…</at>` mention tags and
some HTML in messages. Every string of a `Text` node is data: `&`, `<` and `>` become entities (no
tag, no `<at>` mention, no HTML can come from it) and the characters CommonMark reads as structure
(`\\`, `` ` ``, `*`, `_`, `[`, `]`, `(`, `)`, `~`, `#`, `|`, `!`, and list markers at a line start) are
backslash-escaped. Links exist only as `Link` nodes (http(s), shown with their host); people appear
by display name, never as `<at>` mentions; a bot command reads `@Revenant …`, a room is a thread.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from handlers.teams.ids import BOT_NAME
from incident_core import richtext as rt
from incident_core.richtext_plain import Voice, inline_plain, to_plain

_SPECIAL = frozenset("\\`*_[]()~#|!{}")
_BARE_LINK = re.compile(r"(?<![A-Za-z0-9])(https?|www)(?=://|\.)", re.IGNORECASE)
ZWSP = "\u200b"
_LINE_START = re.compile(r"^(\s*)([-+=>]|\d+[.)])", re.MULTILINE)


def escape(text: str) -> str:
    """Outside text as Teams markdown that shows exactly that text: no markup, no tag, no bare link (a zero-width
    space after `http`/`www`, since Teams links bare URLs)."""
    out: list[str] = []
    for ch in _BARE_LINK.sub(lambda m: m.group(1) + ZWSP, rt.clean(text)):
        if ch == "&":
            out.append("&amp;")
        elif ch == "<":
            out.append("&lt;")
        elif ch == ">":
            out.append("&gt;")
        elif ch in _SPECIAL:
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def _line_starts(text: str) -> str:
    return _LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2) if not m.group(2)[0].isdigit()
                           else m.group(1) + m.group(2)[:-1] + "\\" + m.group(2)[-1], text)


def _safe_end(text: str, limit: int) -> int:
    """The last index ≤ limit that splits no escape, entity, code span or fence (so nothing reopens as markup)."""
    i, safe = 0, 0
    while i < limit:
        ch = text[i]
        if ch == "\\":
            i += 2
        elif ch == "&":
            end = text.find(";", i)
            i = end + 1 if 0 < end - i <= 8 else i + 1
        elif ch == "`":
            run = len(text[i:]) - len(text[i:].lstrip("`"))
            close = text.find("`" * run, i + run)
            i = close + run if close != -1 else i + run
        else:
            i += 1
        if i <= limit:
            safe = i
    return safe


def cut(markdown: str, limit: int) -> str:
    """At most `limit` characters of rendered markdown, cut where no code span or escape is split, then `…`."""
    if len(markdown) <= limit:
        return markdown
    return markdown[:_safe_end(markdown, limit - 1)] + "…"


def code_span(text: str) -> str:
    """Inline code shown verbatim; text that would end or break the span is shown escaped instead."""
    text = rt.clean(text)
    if not text.strip() or "`" in text or "\n" in text:
        return escape(text)
    return f"`{text}`"


def code_block(text: str) -> str:
    """A fenced code block (message text) the text inside cannot close."""
    body = rt.clean(text)
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{body}\n{fence}"


@dataclass(frozen=True)
class TeamsText:
    """Renders rich text for Teams; `names` maps person ids to display names (people are never `<at>` tags)."""

    names: Mapping[str, str] = field(default_factory=dict)

    def person(self, user: str, name: str = "") -> str:
        """A person's display name (escaped), else the name given, else the short id."""
        return escape(self.names.get(user) or name or user.split(":", 1)[-1])

    def inline(self, parts: Sequence[rt.Inline]) -> str:
        """Inline parts as Teams markdown."""
        return "".join(self._part(p) for p in parts)

    def _part(self, part: rt.Inline) -> str:
        if isinstance(part, rt.Text):
            return escape(part.text).replace("\n", "\n\n")
        if isinstance(part, rt.Strong):
            return f"**{self.inline(part.parts)}**"
        if isinstance(part, rt.Emph):
            return f"_{self.inline(part.parts)}_"
        if isinstance(part, rt.Code):
            return code_span(part.text)
        if isinstance(part, rt.Link):
            safe = rt.safe_url(part.url)
            if not safe:
                return ""
            return f"[{escape(rt.host_of(safe))}]({safe.replace('(', '%28').replace(')', '%29')})"
        if isinstance(part, rt.Mention):
            return self.person(part.user, part.name)
        if isinstance(part, rt.Emoji):
            return rt.EMOJI.get(part.name, "")
        if isinstance(part, rt.Command):
            return code_span(f"@{BOT_NAME} {part.text}".rstrip())
        if isinstance(part, rt.Room):
            return escape(part.name or "the incident thread")
        if isinstance(part, rt.Term):
            return rt.TERMS[part.key]["teams"]
        return "\n\n"

    def block(self, block: rt.Block) -> str:
        """One block as Teams markdown."""
        if isinstance(block, rt.Paragraph):
            return _line_starts(self.inline(block.parts))
        if isinstance(block, rt.Bullets):
            return "\n".join("- " + self.inline(item).replace("\n\n", " ") for item in block.items)
        if isinstance(block, rt.Quote):
            return "\n".join("> " + line for line in _line_starts(self.inline(block.parts)).split("\n\n"))
        if isinstance(block, rt.CodeBlock):
            return code_block(block.text)
        if isinstance(block, rt.Heading):
            return f"**{self.inline(block.parts)}**"
        if isinstance(block, rt.Table):
            rows = [block.header, *block.rows] if block.header else list(block.rows)
            return "\n".join("- " + " · ".join(self.inline(cell) for cell in row) for row in rows)
        return "———"

    def markdown(self, content: rt.Rich) -> str:
        """The document, blocks as paragraphs."""
        return "\n\n".join(self.block(b) for b in content.blocks)

    def unmarked(self, content: rt.Rich | Sequence[rt.Inline]) -> str:
        """Markup dropped, people by display name, commands as `@Revenant …`: text before any escaping."""
        voice = Voice(platform="teams", command=f"@{BOT_NAME}", names=self.names)
        return to_plain(content, voice) if isinstance(content, rt.Rich) else inline_plain(tuple(content), voice)

    def plain(self, content: rt.Rich | Sequence[rt.Inline]) -> str:
        """Notification text (activity feed, `text` beside a card): markup dropped, then escaped as markdown."""
        return escape(self.unmarked(content))

    def toast(self, content: rt.Rich | Sequence[rt.Inline]) -> str:
        """Text for surfaces Teams shows without markdown (an Action.Execute error): entities only."""
        return self.unmarked(content).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


DEFAULT = TeamsText()


def markdown(content: rt.Rich, names: Mapping[str, str] | None = None) -> str:
    """The document as Teams markdown (see TeamsText)."""
    return TeamsText(names or {}).markdown(content)
