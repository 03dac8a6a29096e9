"""One walk over rich text for every markup format: a format says how each node looks, not how to visit them.

Slack mrkdwn and Teams markdown (handlers/*) subclass `MarkupWriter` and implement its hooks; the hooks
receive already-rendered inner text, so escaping stays where each format defines it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from incident_core import richtext as rt


class MarkupWriter(ABC):
    """Renders inline parts and blocks by calling the format's hooks (a format implements every one)."""

    def inline(self, parts: Sequence[rt.Inline]) -> str:
        """Inline parts in this format."""
        return "".join(self.part(p) for p in parts)

    def part(self, part: rt.Inline) -> str:
        """One inline node in this format."""
        if isinstance(part, rt.Text):
            return self.text(part.text)
        if isinstance(part, rt.Strong):
            return self.strong(self.inline(part.parts))
        if isinstance(part, rt.Emph):
            return self.emph(self.inline(part.parts))
        if isinstance(part, rt.Code):
            return self.code(part.text)
        if isinstance(part, rt.Link):
            safe = rt.safe_url(part.url)
            return self.link(safe) if safe else ""
        if isinstance(part, rt.Mention):
            return self.mention(part.user, part.name)
        if isinstance(part, rt.Emoji):
            return self.emoji(part.name)
        if isinstance(part, rt.Command):
            return self.command(part.text)
        if isinstance(part, rt.Room):
            return self.room(part)
        if isinstance(part, rt.Term):
            return self.term(part.key)
        return self.line_break()

    def block(self, block: rt.Block) -> str:
        """One block in this format."""
        if isinstance(block, rt.Paragraph):
            return self.paragraph(self.inline(block.parts))
        if isinstance(block, rt.Bullets):
            return self.bullets([self.inline(item) for item in block.items])
        if isinstance(block, rt.Quote):
            return self.quote(self.inline(block.parts))
        if isinstance(block, rt.CodeBlock):
            return self.code_block(block.text)
        if isinstance(block, rt.Heading):
            return self.heading(self.inline(block.parts))
        if isinstance(block, rt.Table):
            rows = [block.header, *block.rows] if block.header else list(block.rows)
            return self.bullets([" · ".join(self.inline(cell) for cell in row) for row in rows])
        return self.rule()

    # --- the format's hooks ----------------------------------------------------------------------------
    @abstractmethod
    def text(self, text: str) -> str:
        """How this node looks in the format."""

    @abstractmethod
    def strong(self, inner: str) -> str:
        """How this node looks in the format."""

    @abstractmethod
    def emph(self, inner: str) -> str:
        """How this node looks in the format."""

    @abstractmethod
    def code(self, text: str) -> str:
        """How this node looks in the format."""

    @abstractmethod
    def link(self, safe_url: str) -> str:
        """How this node looks in the format."""

    @abstractmethod
    def mention(self, user: str, name: str) -> str:
        """How this node looks in the format."""

    @abstractmethod
    def emoji(self, name: str) -> str:
        """How this node looks in the format."""

    @abstractmethod
    def command(self, text: str) -> str:
        """How this node looks in the format."""

    @abstractmethod
    def room(self, room: rt.Room) -> str:
        """How this node looks in the format."""

    @abstractmethod
    def term(self, key: str) -> str:
        """How this node looks in the format."""

    @abstractmethod
    def line_break(self) -> str:
        """How this node looks in the format."""

    @abstractmethod
    def paragraph(self, inner: str) -> str:
        """How this node looks in the format."""

    @abstractmethod
    def bullets(self, items: list[str]) -> str:
        """How this node looks in the format."""

    @abstractmethod
    def quote(self, inner: str) -> str:
        """How this node looks in the format."""

    @abstractmethod
    def code_block(self, text: str) -> str:
        """How this node looks in the format."""

    @abstractmethod
    def heading(self, inner: str) -> str:
        """How this node looks in the format."""

    def rule(self) -> str:
        return "———"
