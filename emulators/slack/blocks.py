"""Block Kit: the limits Slack enforces (invalid_blocks messages) and a plain-text rendering."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

KNOWN_BLOCKS = frozenset(
    "section header divider context actions image input rich_text markdown file video call "
    "context_actions table".split()
)
MAX_BLOCKS = {"message": 50, "modal": 100, "home": 100}


def _err(message: str, pointer: str) -> str:
    return f"[ERROR] {message} [json-pointer:{pointer}]"


def _check_text(obj: Any, pointer: str, limit: int, errors: list[str], *, plain_only: bool = False) -> None:
    if not isinstance(obj, dict) or obj.get("type") not in ("plain_text", "mrkdwn"):
        errors.append(_err("must provide an object with type plain_text or mrkdwn", pointer))
        return
    if plain_only and obj["type"] != "plain_text":
        errors.append(_err("must be a plain_text object", pointer + "/type"))
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        errors.append(_err("must be more than 0 characters", pointer + "/text"))
    elif len(text) > limit:
        errors.append(_err(f"must be less than {limit + 1} characters", pointer + "/text"))


def _check_element(el: Any, pointer: str, errors: list[str]) -> None:
    if not isinstance(el, dict) or "type" not in el:
        errors.append(_err("must provide an object", pointer))
        return
    if len(str(el.get("action_id", ""))) > 255:
        errors.append(_err("must be less than 256 characters", pointer + "/action_id"))
    if el["type"] == "button":
        _check_text(el.get("text"), pointer + "/text", 75, errors, plain_only=True)
        if len(str(el.get("value", ""))) > 2000:
            errors.append(_err("must be less than 2001 characters", pointer + "/value"))
        if len(str(el.get("url", ""))) > 3000:
            errors.append(_err("must be less than 3001 characters", pointer + "/url"))


def validate_blocks(blocks: Any, surface: str = "message") -> list[str]:
    """Slack's invalid_blocks messages for `blocks` on a surface (message, modal, home); [] when valid."""
    if not isinstance(blocks, list):
        return [_err("must provide an array", "/blocks")]
    errors: list[str] = []
    limit = MAX_BLOCKS.get(surface, 50)
    if len(blocks) > limit:
        errors.append(_err(f"no more than {limit} items allowed", "/blocks"))
    seen: set[str] = set()
    for i, block in enumerate(blocks):
        ptr = f"/blocks/{i}"
        if not isinstance(block, dict) or block.get("type") not in KNOWN_BLOCKS:
            errors.append(_err("failed to match all allowed schemas", ptr))
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if len(str(block_id)) > 255:
                errors.append(_err("must be less than 256 characters", ptr + "/block_id"))
            if block_id in seen:
                errors.append(_err(f"duplicate block_id: {block_id}", ptr + "/block_id"))
            seen.add(block_id)
        _check_block(block, ptr, errors)
    return errors


def _check_block(block: dict[str, Any], ptr: str, errors: list[str]) -> None:
    kind = block["type"]
    if kind == "section":
        if "text" not in block and "fields" not in block:
            errors.append(_err("must provide either text or fields", ptr))
        if "text" in block:
            _check_text(block["text"], ptr + "/text", 3000, errors)
        fields = block.get("fields", [])
        if len(fields) > 10:
            errors.append(_err("no more than 10 items allowed", ptr + "/fields"))
        for j, f in enumerate(fields):
            _check_text(f, f"{ptr}/fields/{j}", 2000, errors)
        if "accessory" in block:
            _check_element(block["accessory"], ptr + "/accessory", errors)
    elif kind == "header":
        _check_text(block.get("text"), ptr + "/text", 150, errors, plain_only=True)
    elif kind == "context":
        elements = block.get("elements") or []
        if not 1 <= len(elements) <= 10:
            errors.append(_err("must provide between 1 and 10 items", ptr + "/elements"))
    elif kind == "actions":
        elements = block.get("elements") or []
        if not 1 <= len(elements) <= 25:
            errors.append(_err("must provide between 1 and 25 items", ptr + "/elements"))
        ids = [e.get("action_id") for e in elements if isinstance(e, dict) and e.get("action_id")]
        if len(ids) != len(set(ids)):
            errors.append(_err("action_id values must be unique", ptr + "/elements"))
        for j, el in enumerate(elements):
            _check_element(el, f"{ptr}/elements/{j}", errors)
    elif kind == "markdown" and len(str(block.get("text", ""))) > 12000:
        errors.append(_err("must be less than 12001 characters", ptr + "/text"))
    elif kind == "input":
        _check_text(block.get("label"), ptr + "/label", 2000, errors, plain_only=True)
        if not isinstance(block.get("element"), dict):
            errors.append(_err("must provide an object", ptr + "/element"))


def validate_view(view: Any, *, modal: bool) -> list[str]:
    """Slack's invalid_arguments messages for a view payload."""
    if not isinstance(view, dict):
        return [_err("must provide an object", "/view")]
    errors: list[str] = []
    expected = "modal" if modal else "home"
    if view.get("type") != expected:
        errors.append(_err(f"must be {expected}", "/view/type"))
    if modal:
        _check_text(view.get("title"), "/view/title", 24, errors, plain_only=True)
        for key in ("submit", "close"):
            if key in view:
                _check_text(view[key], f"/view/{key}", 24, errors, plain_only=True)
    if len(str(view.get("private_metadata", ""))) > 3000:
        errors.append(_err("must be less than 3001 characters", "/view/private_metadata"))
    if len(str(view.get("callback_id", ""))) > 255:
        errors.append(_err("must be less than 256 characters", "/view/callback_id"))
    blocks = view.get("blocks")
    if not isinstance(blocks, list) or (modal and not blocks):
        errors.append(_err("must provide an array with at least 1 item", "/view/blocks"))
    else:
        errors.extend(
            e.replace("[json-pointer:/blocks", "[json-pointer:/view/blocks")
            for e in validate_blocks(blocks, expected)
        )
    return errors


# ----- rendering -----

Resolver = Callable[[str], str]
_TOKEN = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")


def mrkdwn_to_text(text: str, user_name: Resolver, channel_name: Resolver) -> str:
    """Replace Slack's <@U…>, <#C…|name>, <!here>, <url|label> markup by what a person sees."""

    def repl(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        if target.startswith("@"):
            return "@" + (label or user_name(target[1:]))
        if target.startswith("#"):
            return "#" + (label or channel_name(target[1:]))
        if target.startswith("!subteam^"):
            return label or "@group"
        if target.startswith("!date^"):
            return label or ""
        if target.startswith("!"):
            return "@" + target[1:].split("^")[0]
        return f"{label} ({target})" if label and label != target else target

    return _TOKEN.sub(repl, text).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _text(obj: Any) -> str:
    if isinstance(obj, dict):
        return str(obj.get("text", ""))
    return "" if obj is None else str(obj)


def element_to_text(el: dict[str, Any]) -> str:
    """One interactive or context element as a short label."""
    kind = el.get("type", "")
    if kind == "button":
        return f"[{_text(el.get('text'))}]"
    if kind in ("plain_text", "mrkdwn"):
        return _text(el)
    if kind == "image":
        return f"[image: {el.get('alt_text', '')}]"
    if kind.endswith("select") or kind == "overflow":
        chosen = el.get("initial_option")
        label = _text(chosen.get("text")) if isinstance(chosen, dict) else _text(el.get("placeholder"))
        return f"[{label or kind} ▾]"
    if kind in ("datepicker", "timepicker", "datetimepicker"):
        return f"[{el.get('initial_date') or el.get('initial_time') or kind}]"
    if kind in ("checkboxes", "radio_buttons"):
        return " ".join(f"( ) {_text(o.get('text'))}" for o in el.get("options", []))
    if kind == "plain_text_input":
        return f"[{el.get('initial_value') or _text(el.get('placeholder')) or '…'}]"
    return f"[{kind}]"


def _rich_text(el: Any) -> str:
    if isinstance(el, dict):
        kind = el.get("type")
        if kind == "text":
            return str(el.get("text", ""))
        if kind == "link":
            return str(el.get("text") or el.get("url", ""))
        if kind == "user":
            return f"<@{el.get('user_id')}>"
        if kind == "channel":
            return f"<#{el.get('channel_id')}>"
        if kind == "emoji":
            return f":{el.get('name')}:"
        if kind == "rich_text_list":
            return "\n".join("• " + _rich_text(item) for item in el.get("elements", []))
        return "".join(_rich_text(child) for child in el.get("elements", []))
    return ""


def blocks_to_lines(blocks: list[dict[str, Any]]) -> list[str]:
    """Block Kit blocks as plain-text lines (markup such as <@U1> left for mrkdwn_to_text)."""
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            lines.append(_text(block.get("text")))
        elif kind == "section":
            if "text" in block:
                lines.extend(_text(block["text"]).splitlines() or [""])
            fields = [_text(f) for f in block.get("fields", [])]
            lines.extend(" | ".join(fields[i : i + 2]) for i in range(0, len(fields), 2))
            if isinstance(block.get("accessory"), dict):
                lines.append(element_to_text(block["accessory"]))
        elif kind == "context":
            lines.append(" · ".join(element_to_text(e) for e in block.get("elements", [])))
        elif kind == "actions":
            lines.append(" ".join(element_to_text(e) for e in block.get("elements", [])))
        elif kind == "divider":
            lines.append("─" * 24)
        elif kind == "markdown":
            lines.extend(str(block.get("text", "")).splitlines())
        elif kind == "rich_text":
            lines.extend(_rich_text(block).splitlines())
        elif kind == "image":
            lines.append(f"[image: {block.get('alt_text', '')}]")
        elif kind == "input":
            element = block.get("element", {})
            optional = " (optional)" if block.get("optional") else ""
            lines.append(f"{_text(block.get('label'))}{optional}: {element_to_text(element)}")
        else:
            lines.append(f"[{kind}]")
    return lines
