"""Rich text → Teams markdown (message text and Adaptive Card TextBlocks): the one place Teams escaping happens.

Teams reads a subset of CommonMark in TextBlocks and message text, plus `<at>…</at>` mention tags and
some HTML in messages. Every string of a `Text` node is data: `&`, `<` and `>` become entities (no
tag, no `<at>` mention, no HTML can come from it) and the characters CommonMark reads as structure
(`\\`, `` ` ``, `*`, `_`, `[`, `]`, `(`, `)`, `~`, `#`, `|`, `!`, and list markers at a line start) are
backslash-escaped. Links exist only as `Link` nodes (http(s), shown with their host); a bot command
reads `@Revenant …`, a room is a thread. People appear by display name; in message text (`message`), a
person whose Teams account is known is an `<at>…</at>` tag around their escaped name, and `message`
returns the mention entity of each tag, in order (handlers/teams/mentions.py puts them on the activity).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from handlers.teams.ids import BOT_NAME
from incident_core import richtext as rt
from incident_core.richtext_markup import MarkupWriter
from incident_core.richtext_plain import Voice, inline_plain, to_plain

_SPECIAL = frozenset("\\`*_[]()~#|!{}")
_BARE_LINK = re.compile(r"(?<![A-Za-z0-9])(https?|www)(?=://|\.)", re.IGNORECASE)
ZWSP = "\u200b"
AT_OPEN, AT_CLOSE = "<at>", "</at>"
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
    """The last index ≤ limit that splits no escape, entity, code span, fence or `<at>` tag (so nothing reopens as
    markup and no half tag is left; outside text never holds a `<`, escaping made it `&lt;`)."""
    i, safe = 0, 0
    while i < limit:
        ch = text[i]
        if ch == "\\":
            i += 2
        elif text.startswith(AT_OPEN, i):
            end = text.find(AT_CLOSE, i)
            i = end + len(AT_CLOSE) if end != -1 else i + 1
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
class Tagged:
    """One `<at>` tag written into message text: the person's Teams id, the name shown, the tag itself."""

    teams_id: str
    name: str
    tag: str


@dataclass(frozen=True)
class TeamsText(MarkupWriter):
    """Renders rich text for Teams; `names` maps person ids to display names. `accounts` (person id →
    (`29:` id, name)) turns those people into `<at>` tags, each noted in `tagged`: only renderings that attach
    the entities pass it (message text, handlers/teams/mentions.py; a card, its `msteams.entities`), since a tag
    without its entity mentions nobody.

    `one_per_tag` (cards): a card's entities are matched to its tags by their text, not by order, so a second
    person shown by the same name as someone already tagged is named, not tagged."""

    names: Mapping[str, str] = field(default_factory=dict)
    accounts: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    tagged: list[Tagged] = field(default_factory=list, compare=False)
    one_per_tag: bool = False

    def person(self, user: str, name: str = "") -> str:
        """A person's display name (escaped), else the name given, else the short id."""
        return escape(self.shown(user, name))

    def shown(self, user: str, name: str = "") -> str:
        """The name a person is shown by, before escaping."""
        return self.names.get(user) or name or user.split(":", 1)[-1]

    # --- how each rich-text node looks in Teams markdown (incident_core/richtext_markup.py walks them) --
    def text(self, text: str) -> str:
        return escape(text).replace("\n", "\n\n")

    def strong(self, inner: str) -> str:
        return f"**{inner}**"

    def emph(self, inner: str) -> str:
        return f"_{inner}_"

    def code(self, text: str) -> str:
        return code_span(text)

    def link(self, safe_url: str) -> str:
        return f"[{escape(rt.host_of(safe_url))}]({safe_url.replace('(', '%28').replace(')', '%29')})"

    def mention(self, user: str, name: str) -> str:
        known = self.accounts.get(user)
        if known is None:
            return self.person(user, name)
        shown = rt.one_line(self.shown(user, known[1] or name), 100)
        tag = f"{AT_OPEN}{escape(shown)}{AT_CLOSE}"
        if self.one_per_tag and any(t.tag == tag and t.teams_id != known[0] for t in self.tagged):
            return self.person(user, name)
        self.tagged.append(Tagged(teams_id=known[0], name=shown, tag=tag))
        return tag

    def emoji(self, name: str) -> str:
        return rt.EMOJI.get(name, "")

    def command(self, text: str) -> str:
        return code_span(f"@{BOT_NAME} {text}".rstrip())

    def room(self, room: rt.Room) -> str:
        return escape(room.name or "the incident thread")

    def term(self, key: str) -> str:
        return rt.TERMS[key]["teams"]

    def line_break(self) -> str:
        return "\n\n"

    def paragraph(self, inner: str) -> str:
        return _line_starts(inner)

    def bullets(self, items: list[str]) -> str:
        return "\n".join("- " + item.replace("\n\n", " ") for item in items)

    def quote(self, inner: str) -> str:
        return "\n".join("> " + line for line in _line_starts(inner).split("\n\n"))

    def code_block(self, text: str) -> str:
        return code_block(text)

    def heading(self, inner: str) -> str:
        return f"**{inner}**"

    def markdown(self, content: rt.Rich) -> str:
        """The document, blocks as paragraphs."""
        return "\n\n".join(self.block(b) for b in content.blocks)

    def message(self, content: rt.Rich) -> tuple[str, list[Tagged]]:
        """Message text and its `<at>` tags in order (each one's text appears, in that order, in the text)."""
        self.tagged.clear()
        text = self.markdown(content)
        at = 0
        for tagged in self.tagged:
            at = text.find(tagged.tag, at)
            if at < 0:  # never expected: the walk writes parts in order; then nobody is tagged rather than a stray tag
                return TeamsText(self.names).markdown(content), []
            at += len(tagged.tag)
        return text, list(self.tagged)

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
