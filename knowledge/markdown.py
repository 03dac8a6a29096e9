"""Parse Markdown runbooks and postmortems into titled sections with steps, commands and links."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from knowledge.commands import Command, extract_commands, inline_commands
from knowledge.frontmatter import split_front_matter

_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t#]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})[ \t]*([^`\s]*)")
_LIST_ITEM = re.compile(r"^( *)(?:(\d{1,3})[.)]|[-*+])[ \t]+(.*)$")
_INLINE_LINK = re.compile(r"(?<!!)\[([^\]]+)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REF_LINK = re.compile(r"\[([^\]]+)\]\[([^\]]*)\]")
_REF_DEF = re.compile(r"^ {0,3}\[([^\]]+)\]:\s*<?(\S+?)>?(?:\s+.*)?$")
_AUTOLINK = re.compile(r"<(https?://[^>\s]+)>")
_BARE_URL = re.compile(r"(?<![(<\[\"'])\bhttps?://[^\s)>\]]+")
_HUGO_REF = re.compile(r"\{\{<\s*ref\s+\"([^\"]+)\"\s*>\}\}")
_HTML_TAG = re.compile(r"</?[a-zA-Z][^>]*>")
_LINK_ONLY = re.compile(r"^(?:\d+\.?|<?https?://\S+|\[[^\]]*\]\([^)]*\)|\[[^\]]*\]\[[^\]]*\])$")
_MAX_CHUNK = 1800


@dataclass(frozen=True)
class Link:
    """A hyperlink found in a section."""

    text: str
    url: str


@dataclass(frozen=True)
class Section:
    """One heading's body: its path of headings, anchor slug, text and extracted structure."""

    heading_path: tuple[str, ...]
    slug: str
    level: int
    text: str
    steps: tuple[str, ...] = ()
    commands: tuple[Command, ...] = ()
    links: tuple[Link, ...] = ()

    @property
    def heading(self) -> str:
        """The section's own heading ('' for the document preamble)."""
        return self.heading_path[-1] if self.heading_path else ""


@dataclass(frozen=True)
class ParsedDocument:
    """A Markdown document: title, front matter and its sections in order."""

    title: str
    front_matter: dict[str, Any] = field(default_factory=dict)
    sections: tuple[Section, ...] = ()


def slugify(heading: str) -> str:
    """GitHub-style anchor for a heading: lower case, punctuation dropped, spaces to dashes."""
    text = _HTML_TAG.sub("", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return re.sub(r" ", "-", text)


def split_camel(word: str) -> str:
    """'KubePodCrashLooping' -> 'Kube Pod Crash Looping' (also splits digits and separators)."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", word)
    return re.sub(r"[\s_\-.]+", " ", spaced).strip()


def parse_markdown(markdown: str, *, default_title: str = "") -> ParsedDocument:
    """Parse a Markdown document: front matter, heading-delimited sections, steps, commands, links."""
    front, body = split_front_matter(markdown.replace("\r\n", "\n"))
    lines = body.split("\n")
    ref_defs = _reference_definitions(lines)
    raw = _split_sections(lines)
    h1 = [heading for level, heading, _ in raw if level == 1]
    title_from_h1 = len(h1) == 1 and next((lvl for lvl, _, _ in raw if lvl > 0), 0) == 1
    fm_title = str(front.get("title") or "").strip()
    title = (h1[0] if title_from_h1 else "") or fm_title or default_title
    sections: list[Section] = []
    stack: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    for level, heading, body_lines in raw:
        if level > 0:
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, heading))
        is_title = level == 0 or (title_from_h1 and level == 1)
        slug = "" if is_title else _unique_slug(slugify(heading), seen)
        path = tuple(h for _, h in stack)
        for chunk in _chunk(body_lines):
            section = _build_section(path, slug, level, chunk, ref_defs)
            if section.text:
                sections.append(section)
    return ParsedDocument(title=title.strip(), front_matter=front, sections=tuple(sections))


def _unique_slug(slug: str, seen: dict[str, int]) -> str:
    count = seen.get(slug, 0)
    seen[slug] = count + 1
    return slug if count == 0 else f"{slug}-{count}"


def _split_sections(lines: list[str]) -> list[tuple[int, str, list[str]]]:
    sections: list[tuple[int, str, list[str]]] = [(0, "", [])]
    fence: str | None = None
    for index, line in enumerate(lines):
        match = _FENCE.match(line)
        if match and (fence is None or match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence)):
            fence = match.group(1) if fence is None else None
            sections[-1][2].append(line)
            continue
        if fence is None:
            atx = _ATX.match(line)
            if atx:
                sections.append((len(atx.group(1)), atx.group(2).strip(), []))
                continue
            setext = _SETEXT.match(line)
            current = sections[-1][2]
            if setext and current and current[-1].strip() and _is_paragraph_line(current, index, lines):
                heading = current.pop().strip()
                sections.append((1 if setext.group(1)[0] == "=" else 2, heading, []))
                continue
        sections[-1][2].append(line)
    return [s for s in sections if s[0] > 0 or any(line.strip() for line in s[2])]


def _is_paragraph_line(current: list[str], index: int, lines: list[str]) -> bool:
    previous = current[-1]
    if _LIST_ITEM.match(previous) or previous.lstrip().startswith(("|", ">", "<")):
        return False
    return len(current) < 2 or not current[-2].strip()


def _chunk(body_lines: list[str]) -> list[list[str]]:
    """Split a long section at blank lines outside code fences so no chunk far exceeds _MAX_CHUNK."""
    chunks: list[list[str]] = [[]]
    size = 0
    fence = False
    for line in body_lines:
        if _FENCE.match(line):
            fence = not fence
        if not fence and not line.strip() and size > _MAX_CHUNK:
            chunks.append([])
            size = 0
        chunks[-1].append(line)
        size += len(line) + 1
    return [c for c in chunks if any(line.strip() for line in c)]


def _build_section(
    path: tuple[str, ...], slug: str, level: int, lines: list[str], ref_defs: dict[str, str]
) -> Section:
    text = "\n".join(lines).strip()
    prose = _strip_code(lines)
    commands = extract_commands(text) + inline_commands(prose)
    return Section(
        heading_path=path,
        slug=slug,
        level=level,
        text=text,
        steps=tuple(_steps(prose)),
        commands=tuple(dict.fromkeys(commands)),
        links=tuple(_links(text, ref_defs)),
    )


def _strip_code(lines: list[str]) -> list[str]:
    out: list[str] = []
    fence = False
    for line in lines:
        if _FENCE.match(line):
            fence = not fence
            continue
        if not fence:
            out.append(line)
    return out


def _steps(prose: list[str]) -> list[str]:
    """List items (numbered or bulleted) with their continuation lines, Markdown markup removed."""
    items: list[list[str]] = []
    current: list[str] | None = None
    for line in prose:
        item = _LIST_ITEM.match(line)
        if item:
            current = [item.group(3).strip()]
            items.append(current)
        elif current is not None and line.strip() and line.startswith((" ", "\t")):
            current.append(line.strip())
        else:
            current = None
    raw = [" ".join(parts).strip() for parts in items]
    return [_plain(r) for r in raw if len(r) > 2 and not _LINK_ONLY.match(r)]


def _plain(text: str) -> str:
    text = _INLINE_LINK.sub(r"\1", text)
    text = _REF_LINK.sub(r"\1", text)
    text = re.sub(r"\*\*|__|(?<!\w)[*_](?=\S)|(?<=\S)[*_](?!\w)", "", text)
    return re.sub(r"\s+", " ", text).strip()


def _reference_definitions(lines: list[str]) -> dict[str, str]:
    defs: dict[str, str] = {}
    for line in lines:
        match = _REF_DEF.match(line)
        if match:
            defs[match.group(1).lower()] = match.group(2)
    return defs


def _links(text: str, ref_defs: dict[str, str]) -> list[Link]:
    links: list[Link] = []
    for match in _INLINE_LINK.finditer(text):
        links.append(Link(_plain(match.group(1)), _HUGO_REF.sub(r"\1", match.group(2))))
    for match in _REF_LINK.finditer(text):
        url = ref_defs.get((match.group(2) or match.group(1)).lower())
        if url:
            links.append(Link(_plain(match.group(1)), url))
    for match in _HUGO_REF.finditer(text):
        links.append(Link(match.group(1), match.group(1)))
    for match in _AUTOLINK.finditer(text):
        links.append(Link(match.group(1), match.group(1)))
    without_links = _AUTOLINK.sub("", _INLINE_LINK.sub("", text))
    for line in without_links.split("\n"):
        if _REF_DEF.match(line):
            continue
        for match in _BARE_URL.finditer(line):
            url = match.group(0).rstrip(".,;:")
            links.append(Link(url, url))
    unique: dict[str, Link] = {}
    for link in links:
        unique.setdefault(link.url, link)
    return list(unique.values())
