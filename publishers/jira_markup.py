"""Rich text → Jira wiki markup (REST API v2 descriptions): the one place Jira escaping happens.

Text is data: every character wiki markup reads as an effect, a macro, a link, an image, a table or a
mention (`*`, `_`, `-`, `+`, `^`, `~`, `?`, `{`, `}`, `[`, `]`, `|`, `!`, `#`, `\\`) is backslash-escaped,
a heading or quote marker at a line start (`h1.`, `bq.`) loses its meaning, and code goes into a
`{code}` block the text cannot close (`{noformat}` when the text holds `{code}`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from incident_core import richtext as rt

ZWSP = "\u200b"
_SPECIAL = frozenset("\\*_-+^~?{}[]|!#")
_LINE_MARKER = re.compile(r"^(\s*)(h[1-6]|bq)\.", re.MULTILINE | re.IGNORECASE)


def escape(text: str) -> str:
    """Outside text as wiki markup that shows exactly that text."""
    escaped = "".join("\\" + ch if ch in _SPECIAL else ch for ch in rt.clean(text))
    return _LINE_MARKER.sub(lambda m: f"{m.group(1)}{m.group(2)}\\.", escaped)


def code_block(text: str) -> str:
    """Verbatim code in `{code}` (or `{noformat}` when the text holds `{code}`); the text cannot close it."""
    body = rt.clean(text)
    for macro in ("code", "noformat"):
        if "{" + macro not in body.lower():
            return f"{{{macro}}}\n{body}\n{{{macro}}}"
    # Both closers appear in the text: break them, so the block stays closed only where we close it.
    return "{code}\n" + re.sub(r"\{(code|noformat)", lambda m: "{" + ZWSP + m.group(1), body,
                               flags=re.IGNORECASE) + "\n{code}"


class JiraText:
    """Renders a document as Jira wiki markup."""

    def inline(self, parts: Sequence[rt.Inline], *, table: bool = False) -> str:
        """Inline parts as wiki markup (a table cell holds no line break)."""
        text = "".join(self._part(p) for p in parts)
        return text.replace("\n", " ") if table else text

    def _part(self, part: rt.Inline) -> str:
        if isinstance(part, rt.Text):
            return escape(part.text)
        if isinstance(part, rt.Strong):
            return f"*{self.inline(part.parts)}*"
        if isinstance(part, rt.Emph):
            return f"_{self.inline(part.parts)}_"
        if isinstance(part, rt.Code):
            return "{{" + escape(part.text.replace("\n", " ")) + "}}"
        if isinstance(part, rt.Link):
            safe = rt.safe_url(part.url)
            if not safe:
                return ""
            target = safe.replace("[", "%5B").replace("]", "%5D").replace("|", "%7C")
            return f"[{escape(rt.host_of(safe))}|{target}]"
        if isinstance(part, rt.Mention):
            return escape(part.name or part.user.split(":", 1)[-1])
        if isinstance(part, rt.Emoji):
            return rt.EMOJI.get(part.name, "")
        if isinstance(part, rt.Command):
            return "{{" + escape(f"/revenant {part.text}".rstrip()) + "}}"
        if isinstance(part, rt.Room):
            return escape(f"#{part.name or part.room_id}")
        if isinstance(part, rt.Term):
            return rt.TERMS[part.key]["slack"]
        return "\n"

    def block(self, block: rt.Block) -> str:
        """One block as wiki markup."""
        if isinstance(block, rt.Paragraph):
            return self.inline(block.parts)
        if isinstance(block, rt.Bullets):
            return "\n".join("* " + self.inline(item, table=True) for item in block.items)
        if isinstance(block, rt.Quote):
            return "{quote}\n" + self.inline(block.parts) + "\n{quote}"
        if isinstance(block, rt.CodeBlock):
            return code_block(block.text)
        if isinstance(block, rt.Heading):
            return f"h{max(1, min(6, block.level))}. " + self.inline(block.parts, table=True)
        if isinstance(block, rt.Table):
            head = [self.inline(c, table=True) or " " for c in block.header]
            lines = ["||" + "||".join(head) + "||"] if any(h.strip() for h in head) else []
            lines += ["|" + "|".join(self.inline(c, table=True) or " " for c in row) + "|" for row in block.rows]
            return "\n".join(lines)
        return "----"

    def document(self, content: rt.Rich) -> str:
        """The document, blocks separated by blank lines."""
        return "\n\n".join(self.block(b) for b in content.blocks)


def to_jira(content: rt.Rich) -> str:
    """The document as Jira wiki markup."""
    return JiraText().document(content)
