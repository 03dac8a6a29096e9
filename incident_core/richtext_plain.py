"""Rich text as plain text: for logs, the CLI, exception messages and anything without markup."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from incident_core import richtext as rt


@dataclass(frozen=True)
class Voice:
    """How plain text names things on a platform: its word set, how a bot command reads, people's names."""

    platform: str = "slack"
    command: str = "/revenant"
    names: Mapping[str, str] = field(default_factory=dict)


DEFAULT = Voice()


def inline_plain(parts: tuple[rt.Inline, ...], voice: Voice = DEFAULT) -> str:
    """Inline parts as text without markup (a link shows its URL, a person their name or short id)."""
    out: list[str] = []
    for part in parts:
        if isinstance(part, rt.Text):
            out.append(rt.clean(part.text))
        elif isinstance(part, rt.Strong | rt.Emph):
            out.append(inline_plain(part.parts, voice))
        elif isinstance(part, rt.Code):
            out.append(f"`{rt.clean(part.text)}`")  # the terminal convention for code, as people type it
        elif isinstance(part, rt.Link):
            out.append(part.url)
        elif isinstance(part, rt.Mention):
            out.append(rt.clean(voice.names.get(part.user) or part.name or part.user.split(":", 1)[-1]))
        elif isinstance(part, rt.Emoji):
            out.append(rt.EMOJI.get(part.name, ""))
        elif isinstance(part, rt.Command):
            out.append("`" + f"{voice.command} {part.text}".rstrip() + "`")
        elif isinstance(part, rt.Room):
            out.append(f"#{rt.clean(part.name or part.room_id)}")
        elif isinstance(part, rt.Term):
            out.append(rt.TERMS[part.key].get(voice.platform, rt.TERMS[part.key]["slack"]))
        elif isinstance(part, rt.Break):
            out.append("\n")
    return "".join(out)


def block_plain(block: rt.Block, voice: Voice = DEFAULT) -> str:
    """One block as plain lines."""
    if isinstance(block, rt.Paragraph | rt.Heading):
        return inline_plain(block.parts, voice)
    if isinstance(block, rt.Bullets):
        return "\n".join("• " + inline_plain(item, voice) for item in block.items)
    if isinstance(block, rt.Quote):
        return "\n".join("> " + line for line in inline_plain(block.parts, voice).splitlines() or [""])
    if isinstance(block, rt.CodeBlock):
        return rt.clean(block.text)
    if isinstance(block, rt.Table):
        rows = [block.header, *block.rows] if block.header else list(block.rows)
        return "\n".join(" | ".join(inline_plain(cell, voice) for cell in row) for row in rows)
    return "—" * 3


def to_plain(content: rt.Rich, voice: Voice = DEFAULT) -> str:
    """The document as plain text, blocks separated by line breaks."""
    return "\n".join(block_plain(block, voice) for block in content.blocks)
