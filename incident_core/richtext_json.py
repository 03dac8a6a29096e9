"""Rich text to and from JSON (outbox payloads carry notices this way); reading re-checks every link."""

from __future__ import annotations

from typing import Any

from incident_core import richtext as rt

_SIMPLE = {rt.Text: "text", rt.Code: "code", rt.Command: "command"}


def _inline_json(part: rt.Inline) -> dict[str, Any]:
    if isinstance(part, rt.Text | rt.Code | rt.Command):
        return {"type": _SIMPLE[type(part)], "text": part.text}
    if isinstance(part, rt.Strong | rt.Emph):
        return {"type": "strong" if isinstance(part, rt.Strong) else "emph", "parts": parts_json(part.parts)}
    if isinstance(part, rt.Link):
        return {"type": "link", "url": part.url}
    if isinstance(part, rt.Mention):
        return {"type": "mention", "user": part.user, "name": part.name}
    if isinstance(part, rt.Emoji):
        return {"type": "emoji", "name": part.name}
    if isinstance(part, rt.Room):
        return {"type": "room", "platform": part.platform, "room_id": part.room_id, "name": part.name}
    if isinstance(part, rt.Term):
        return {"type": "term", "key": part.key}
    return {"type": "break"}


def parts_json(parts: tuple[rt.Inline, ...]) -> list[dict[str, Any]]:
    """Inline parts as JSON."""
    return [_inline_json(p) for p in parts]


def _block_json(block: rt.Block) -> dict[str, Any]:
    if isinstance(block, rt.Paragraph | rt.Quote):
        return {"type": "paragraph" if isinstance(block, rt.Paragraph) else "quote", "parts": parts_json(block.parts)}
    if isinstance(block, rt.Bullets):
        return {"type": "bullets", "items": [parts_json(i) for i in block.items]}
    if isinstance(block, rt.CodeBlock):
        return {"type": "code_block", "text": block.text}
    if isinstance(block, rt.Heading):
        return {"type": "heading", "parts": parts_json(block.parts), "level": block.level}
    if isinstance(block, rt.Table):
        return {"type": "table", "header": [parts_json(c) for c in block.header],
                "rows": [[parts_json(c) for c in row] for row in block.rows]}
    return {"type": "rule"}


def to_json(content: rt.Rich) -> list[dict[str, Any]]:
    """The document as a JSON-ready list of blocks."""
    return [_block_json(b) for b in content.blocks]


def _parts(raw: Any) -> tuple[rt.Inline, ...]:
    return tuple(p for p in (_inline(x) for x in (raw if isinstance(raw, list) else [])) if p is not None)


def _inline(raw: Any) -> rt.Inline | None:
    if not isinstance(raw, dict):
        return rt.Text(str(raw)) if isinstance(raw, str) else None
    kind, text = raw.get("type"), str(raw.get("text", ""))
    if kind == "code":
        return rt.Code(text)
    if kind == "command":
        return rt.Command(text)
    if kind in ("strong", "emph"):
        return (rt.Strong if kind == "strong" else rt.Emph)(_parts(raw.get("parts")))
    if kind == "link":
        return rt.link(raw.get("url"))
    if kind == "mention":
        return rt.Mention(str(raw.get("user", "")), str(raw.get("name", ""))) if raw.get("user") else None
    if kind == "emoji":
        return rt.Emoji(str(raw["name"])) if raw.get("name") in rt.EMOJI else None
    if kind == "room":
        return rt.Room(str(raw.get("platform", "")), str(raw.get("room_id", "")), str(raw.get("name", "")))
    if kind == "term":
        return rt.Term(str(raw["key"])) if raw.get("key") in rt.TERMS else None
    if kind == "break":
        return rt.Break()
    return rt.Text(text)


def _block(raw: Any) -> rt.Block | None:
    if not isinstance(raw, dict):
        return rt.Paragraph((rt.Text(raw),)) if isinstance(raw, str) else None
    kind = raw.get("type")
    if kind == "quote":
        return rt.Quote(_parts(raw.get("parts")))
    if kind == "bullets":
        return rt.Bullets(tuple(_parts(i) for i in raw.get("items") or [] if isinstance(i, list)))
    if kind == "code_block":
        return rt.CodeBlock(str(raw.get("text", "")))
    if kind == "heading":
        level = raw.get("level")
        return rt.Heading(_parts(raw.get("parts")), level if isinstance(level, int) and 1 <= level <= 6 else 2)
    if kind == "table":
        header = tuple(_parts(c) for c in raw.get("header") or [] if isinstance(c, list))
        rows = tuple(tuple(_parts(c) for c in row if isinstance(c, list))
                     for row in raw.get("rows") or [] if isinstance(row, list))
        return rt.Table(header, rows)
    if kind == "rule":
        return rt.Rule()
    return rt.Paragraph(_parts(raw.get("parts")))


def from_json(raw: Any) -> rt.Rich:
    """A document from to_json output; a plain string (older payloads) becomes one Text paragraph."""
    if isinstance(raw, str):
        return rt.doc(raw)
    blocks = tuple(b for b in (_block(x) for x in (raw if isinstance(raw, list) else [])) if b is not None)
    return rt.Rich(blocks)
