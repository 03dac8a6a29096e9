"""Rich text → GitHub-flavoured Markdown: the postmortem file, the pull request body, MCP templates.

The one place GitHub escaping happens. Text is data: every character Markdown or GitHub could read
as structure (`\\`, `` ` ``, `*`, `_`, `[`, `<`, `>`, `|`, `~`, `#`, `&`, and list or heading
markers at a line start) is backslash-escaped or an entity, so no link, image, HTML tag or heading
comes from it; a word-leading `@` gets a zero-width space after it so nobody is mentioned (and
pinged) by an alert title. Code is shown verbatim in a fence longer than any backtick run inside.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from incident_core import richtext as rt

ZWSP = "\u200b"
_SPECIAL = frozenset("\\`*_[<>|~#")  # `[` escaped: no link, image or reference can open
_LINE_START = re.compile(r"^(\s*)([-+=]|\d+[.)])", re.MULTILINE)


def escape(text: str) -> str:
    """Outside text as Markdown that shows exactly that text."""
    out: list[str] = []
    prev = " "
    for ch in rt.clean(text):
        if ch == "&":
            out.append("&amp;")
        elif ch in _SPECIAL:
            out.append("\\" + ch)
        else:
            out.append(ch)
        if ch == "@" and not prev.isalnum():
            out.append(ZWSP)
        prev = ch
    return "".join(out)


def no_mentions(text: str) -> str:
    """Plain text (a title, a commit message) in which no `@name` can mention anybody."""
    return re.sub(r"(?<![\w@])@", "@" + ZWSP, rt.clean(text))


def _line_starts(text: str) -> str:
    """List, heading and setext markers at the start of a line escaped (`- x`, `1. x`, `===`)."""
    return _LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2) if not m.group(2)[0].isdigit()
                           else m.group(1) + m.group(2)[:-1] + "\\" + m.group(2)[-1], text)


def _fence(text: str, minimum: int) -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(minimum, longest + 1)


def code_span(text: str, *, in_table: bool = False) -> str:
    """Verbatim inline code; the fence is longer than any backtick run in the text."""
    text = rt.clean(text).replace("\n", " ")
    if in_table:
        text = text.replace("|", "\\|")  # GFM splits table cells on | even inside code
    fence = _fence(text, 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def code_block(text: str) -> str:
    """A fenced code block that the text inside cannot close."""
    body = rt.clean(text)
    fence = _fence(body, 3)
    return f"{fence}\n{body}\n{fence}"


class MarkdownText:
    """Renders a document; `table` switches inline rendering to what a table cell can hold."""

    def inline(self, parts: Sequence[rt.Inline], *, table: bool = False) -> str:
        """Inline parts as Markdown."""
        text = "".join(self._part(p, table) for p in parts)
        return text.replace("\n", " ") if table else text

    def _part(self, part: rt.Inline, table: bool) -> str:
        if isinstance(part, rt.Text):
            return escape(part.text)
        if isinstance(part, rt.Strong):
            return f"**{self.inline(part.parts, table=table)}**"
        if isinstance(part, rt.Emph):
            return f"_{self.inline(part.parts, table=table)}_"
        if isinstance(part, rt.Code):
            return code_span(part.text, in_table=table)
        if isinstance(part, rt.Link):
            safe = rt.safe_url(part.url)
            if not safe:
                return ""
            target = safe.replace("(", "%28").replace(")", "%29")
            return f"[{escape(rt.host_of(safe))}]({target})"
        if isinstance(part, rt.Mention):
            return escape(part.name or part.user.split(":", 1)[-1])
        if isinstance(part, rt.Emoji):
            return rt.EMOJI.get(part.name, "")
        if isinstance(part, rt.Command):
            return code_span(f"/revenant {part.text}".rstrip(), in_table=table)
        if isinstance(part, rt.Room):
            return escape(f"#{part.name or part.room_id}")
        if isinstance(part, rt.Term):
            return rt.TERMS[part.key]["slack"]
        return "\n"

    def block(self, block: rt.Block) -> str:
        """One block as Markdown."""
        if isinstance(block, rt.Paragraph):
            return _line_starts(self.inline(block.parts))
        if isinstance(block, rt.Bullets):
            return "\n".join("- " + _line_starts(self.inline(item)).replace("\n", "\n  ") for item in block.items)
        if isinstance(block, rt.Quote):
            return "\n".join("> " + line for line in _line_starts(self.inline(block.parts)).split("\n"))
        if isinstance(block, rt.CodeBlock):
            return code_block(block.text)
        if isinstance(block, rt.Heading):
            return "#" * max(1, min(6, block.level)) + " " + self.inline(block.parts, table=True)
        if isinstance(block, rt.Table):
            width = max([len(block.header), *(len(r) for r in block.rows)], default=1)

            def row(cells: Sequence[tuple[rt.Inline, ...]]) -> str:
                filled = [self.inline(c, table=True) for c in cells] + [""] * (width - len(cells))
                return "| " + " | ".join(filled) + " |" if any(filled) else "|" + " |" * width

            return "\n".join([row(block.header), "|" + "---|" * width, *(row(r) for r in block.rows)])
        return "---"

    def document(self, content: rt.Rich) -> str:
        """The document, blocks separated by blank lines, ending with a newline."""
        return "\n\n".join(self.block(b) for b in content.blocks) + "\n"


def to_markdown(content: rt.Rich) -> str:
    """The document as GitHub-flavoured Markdown."""
    return MarkdownText().document(content)
