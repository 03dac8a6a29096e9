"""Rich text: what the core says, as structure; each platform renders it and escapes every string once.

Everything the core tells a person (replies, the war room, reminders, notices, errors, postmortems)
is a `Rich` document of blocks (paragraphs, bullet lists, quotes, code blocks, headings, tables)
made of inline parts (text, strong, emphasis, code, links, mentions, emoji, bot commands, rooms,
platform words). A plain string is always `Text`: data, never markup. Formatting, links and
mentions exist only as nodes, so text from an alert, a log line, a runbook, a chat message or a
model cannot turn into any of them on any platform.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypeAlias

from incident_core.richtext_safety import clean, host_of, safe_url

__all__ = ["clean", "host_of", "safe_url"]


@dataclass(frozen=True)
class Text:
    """Literal text; renderers escape it for where it goes."""

    text: str


@dataclass(frozen=True)
class Strong:
    parts: tuple[Inline, ...]


@dataclass(frozen=True)
class Emph:
    parts: tuple[Inline, ...]


@dataclass(frozen=True)
class Code:
    """Inline code (a command, a path, a log line): shown verbatim in a code span."""

    text: str


@dataclass(frozen=True)
class Link:
    """A link, only to an http(s) URL that passed `safe_url`; shown with its host so nobody is misled."""

    url: str


@dataclass(frozen=True)
class Mention:
    """A person by platform id (`slack:U123`); renderers mention only ids the platform knows, else show `name`."""

    user: str
    name: str = ""


@dataclass(frozen=True)
class Emoji:
    """An emoji by short name (EMOJI holds every name the core uses)."""

    name: str


@dataclass(frozen=True)
class Command:
    """A bot command (`status resolved`): `/revenant status resolved` on Slack, `@Revenant status resolved` on Teams."""

    text: str


@dataclass(frozen=True)
class Room:
    """An incident room: a channel link on its own platform, its name elsewhere."""

    platform: str
    room_id: str
    name: str = ""


@dataclass(frozen=True)
class Term:
    """A word that differs per platform (TERMS: `room` is a Slack channel, a Teams thread)."""

    key: str


@dataclass(frozen=True)
class Break:
    """A line break inside a paragraph."""


Inline = Text | Strong | Emph | Code | Link | Mention | Emoji | Command | Room | Term | Break
INLINE_TYPES = (Text, Strong, Emph, Code, Link, Mention, Emoji, Command, Room, Term, Break)


@dataclass(frozen=True)
class Paragraph:
    parts: tuple[Inline, ...]


@dataclass(frozen=True)
class Bullets:
    items: tuple[tuple[Inline, ...], ...]


@dataclass(frozen=True)
class Quote:
    parts: tuple[Inline, ...]


@dataclass(frozen=True)
class CodeBlock:
    text: str


@dataclass(frozen=True)
class Heading:
    parts: tuple[Inline, ...]
    level: int = 2


@dataclass(frozen=True)
class Table:
    header: tuple[tuple[Inline, ...], ...]
    rows: tuple[tuple[tuple[Inline, ...], ...], ...]


@dataclass(frozen=True)
class Rule:
    """A horizontal rule."""


Block = Paragraph | Bullets | Quote | CodeBlock | Heading | Table | Rule
Part: TypeAlias = "str | Inline | None | Iterable[Part]"  # what builders take: a str is Text, None is skipped

EMOJI = {"warning": "⚠️", "boom": "💥", "tada": "🎉", "rotating_light": "🚨", "white_check_mark": "✅",
         "pushpin": "📌", "lock": "🔒", "bell": "🔔", "memo": "📝", "hourglass": "⌛", "zzz": "💤",
         "page_facing_up": "📄", "hourglass_flowing_sand": "⏳"}
TERMS = {"room": {"slack": "channel", "teams": "thread"}}


@dataclass(frozen=True)
class Rich:
    """A document: a sequence of blocks."""

    blocks: tuple[Block, ...] = field(default_factory=tuple)

    def __add__(self, other: Rich) -> Rich:
        return Rich(self.blocks + other.blocks)

    def __bool__(self) -> bool:
        return bool(self.blocks)

    def plain(self) -> str:
        """Plain text (logs, the CLI, exception messages): no markup, people by name or short id."""
        from incident_core.richtext_plain import to_plain

        return to_plain(self)


def inline(*parts: Part) -> tuple[Inline, ...]:
    """Parts as inline nodes: a str is Text, None is skipped, an iterable is flattened."""
    out: list[Inline] = []
    for part in parts:
        if part is None or part == "":
            continue
        if isinstance(part, str):
            out.append(Text(part))
        elif isinstance(part, INLINE_TYPES):
            out.append(part)
        else:
            out.extend(inline(*part))
    return tuple(out)


def para(*parts: Part) -> Paragraph:
    """A paragraph of parts."""
    return Paragraph(inline(*parts))


def b(*parts: Part) -> Strong:
    """Strong (bold) parts."""
    return Strong(inline(*parts))


def em(*parts: Part) -> Emph:
    """Emphasized (italic) parts."""
    return Emph(inline(*parts))


def code(text: str) -> Code:
    """Inline code."""
    return Code(str(text))


def link(url: str | None) -> Link | None:
    """A link to `url` when it is a safe http(s) URL, else None (nothing is shown)."""
    safe = safe_url(url)
    return Link(safe) if safe else None


def mention(user: str | None, name: str = "") -> Mention | Text:
    """A person (qualified id); `someone` when there is nobody."""
    return Mention(str(user), name) if user else Text("someone")


def emoji(name: str) -> Emoji:
    """An emoji from EMOJI."""
    if name not in EMOJI:
        raise ValueError(f"unknown emoji {name!r}: add it to richtext.EMOJI")
    return Emoji(name)


def cmd(text: str = "") -> Command:
    """A bot command, e.g. cmd("status resolved")."""
    return Command(text)


def term(key: str) -> Term:
    """A platform word from TERMS."""
    if key not in TERMS:
        raise ValueError(f"unknown term {key!r}")
    return Term(key)


def bullets(*items: Part) -> Bullets:
    """A bullet list; each item is a part or an iterable of parts."""
    return Bullets(tuple(inline(item) for item in items))


def lines(*rows: Part) -> Paragraph:
    """One paragraph whose rows are separated by line breaks."""
    out: list[Inline] = []
    for row in rows:
        if out:
            out.append(Break())
        out.extend(inline(row))
    return Paragraph(tuple(out))


def join(items: Iterable[Part], sep: str = ", ") -> tuple[Inline, ...]:
    """Inline parts of every item with `sep` between them."""
    out: list[Inline] = []
    for item in items:
        if out:
            out.append(Text(sep))
        out.extend(inline(item))
    return tuple(out)


def doc(*blocks: Block | str | None) -> Rich:
    """A document; a str becomes a paragraph of Text."""
    return Rich(tuple(Paragraph((Text(x),)) if isinstance(x, str) else x for x in blocks if x is not None))


def text(value: str | Rich) -> Rich:
    """A document from a string (one Text paragraph) or an existing document."""
    return value if isinstance(value, Rich) else doc(value)


def prefix(content: Rich, *parts: Part) -> Rich:
    """`parts` put before the first paragraph (or as a paragraph of their own)."""
    head = inline(*parts)
    if content.blocks and isinstance(content.blocks[0], Paragraph):
        return Rich((Paragraph(head + content.blocks[0].parts), *content.blocks[1:]))
    return Rich((Paragraph(head), *content.blocks))


def clip(value: str, limit: int) -> str:
    """At most `limit` characters, with … when cut."""
    value = str(value)
    return value if len(value) <= limit else value[: max(0, limit - 1)] + "…"


_WORD = re.compile(r"\s+")


def one_line(value: str, limit: int = 300) -> str:
    """Whitespace (newlines included) collapsed to single spaces, clipped: for titles and list items."""
    return clip(_WORD.sub(" ", str(value)).strip(), limit)
