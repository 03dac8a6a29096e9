"""The postmortem modal's typed metadata, and reading and validating what a person submitted."""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from handlers.slack.ids import InputId, PostmortemId
from incident_core.errors import ValidationError
from incident_core.postmortem_model import MAX_SECTION, SECTION_TITLES

DECISIONS = ("save", "submit", "approve")


def fingerprint(value: Any) -> str:
    """A short checksum of a section (or the action items) as it was when the modal opened."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return f"{zlib.crc32(text.encode('utf-8', 'surrogatepass')):08x}"


def section_block(key: str, part: int) -> str:
    return f"{PostmortemId.SECTION_BLOCK}:{key}:{part}"


def row_block(kind: PostmortemId, row: int) -> str:
    return f"{kind}:{row}"


@dataclass(frozen=True)
class ModalMeta:
    """Round-trips through `private_metadata` (well under Slack's 3000 characters)."""

    incident_id: str
    channel: str | None = None
    sections: tuple[tuple[str, int], ...] = ()
    rows: int = 0
    hashes: dict[str, str] = field(default_factory=dict)
    items_hash: str = ""
    item_ids: tuple[str, ...] = ()

    def to_json(self) -> str:
        return json.dumps({"i": self.incident_id, "c": self.channel, "s": [list(s) for s in self.sections],
                           "r": self.rows, "h": self.hashes, "ih": self.items_hash, "ids": list(self.item_ids)},
                          separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | None) -> ModalMeta:
        """Parse the metadata; a tampered or truncated value is refused."""
        try:
            d = json.loads(raw or "")
            return cls(incident_id=str(d["i"]), channel=d.get("c"),
                       sections=tuple((str(k), int(n)) for k, n in d.get("s", [])), rows=int(d.get("r", 0)),
                       hashes={str(k): str(v) for k, v in (d.get("h") or {}).items()}, items_hash=str(d.get("ih", "")),
                       item_ids=tuple(str(x) for x in d.get("ids", [])))
        except (ValueError, KeyError, TypeError):
            raise ValidationError("this form is out of date; close it and run `/revenant postmortem` again") from None


@dataclass
class FormInput:
    """What the person submitted: section texts, action item rows (empty rows dropped) and the decision."""

    sections: dict[str, str]
    items: list[dict[str, Any]]
    decision: str
    first_block_of_row: dict[int, str] = field(default_factory=dict)


def _state(values: dict[str, Any], block: str, action: str = InputId.VALUE) -> dict[str, Any]:
    return dict((values.get(block) or {}).get(action) or {})


def _value(values: dict[str, Any], block: str, action: str = InputId.VALUE) -> str:
    element = _state(values, block, action)
    for key in ("value", "selected_user", "selected_date"):
        if element.get(key):
            return str(element[key]).strip()
    option = element.get("selected_option") or {}
    return str(option.get("value") or "").strip()


def read_form(values: dict[str, Any], meta: ModalMeta, previous: Sequence[Mapping[str, Any]]) -> FormInput:
    """Sections joined from their inputs; action item rows from their title, owner, priority and due date."""
    sections = {}
    for key, parts in meta.sections:
        chunks = [_value(values, section_block(key, i)) for i in range(parts)]
        sections[key] = "\n".join(c for c in chunks if c)
    by_id = {str(item.get("id")): item for item in previous}
    items: list[dict[str, Any]] = []
    first: dict[int, str] = {}
    used = {str(i) for i in meta.item_ids}
    for row in range(meta.rows):
        title = _value(values, row_block(PostmortemId.ITEM_TITLE_BLOCK, row))
        owner = _value(values, row_block(PostmortemId.ITEM_ROW_BLOCK, row), PostmortemId.ITEM_OWNER)
        owner = f"slack:{owner}" if owner else _value(values, row_block(PostmortemId.ITEM_OWNER_BLOCK, row))
        priority = _value(values, row_block(PostmortemId.ITEM_ROW_BLOCK, row), PostmortemId.ITEM_PRIORITY)
        due = _value(values, row_block(PostmortemId.ITEM_ROW_BLOCK, row), PostmortemId.ITEM_DUE)
        if not (title or owner or priority or due):
            continue
        item_id = meta.item_ids[row] if row < len(meta.item_ids) else _new_id(used)
        used.add(item_id)
        old = by_id.get(item_id, {})
        first[len(items)] = row_block(PostmortemId.ITEM_TITLE_BLOCK, row)
        items.append({"id": item_id, "title": title, "owner": owner, "priority": priority, "due": due,
                      "kind": old.get("kind", "prevent"), "cites": old.get("cites", [])})
    shown = set(meta.item_ids)
    items += [dict(i) for n, i in enumerate(previous) if n >= meta.rows and str(i.get("id")) not in shown]
    decision = _value(values, PostmortemId.DECISION_BLOCK) or "save"
    return FormInput(sections=sections, items=items, decision=decision if decision in DECISIONS else "save",
                     first_block_of_row=first)


def _new_id(used: set[str]) -> str:
    n = 1
    while f"ai-{n}" in used:
        n += 1
    return f"ai-{n}"


def validate(form: FormInput, meta: ModalMeta, *, today: date,
             previous: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Inline errors keyed by block id (Slack's `response_action: errors`); a changed due date must be ahead."""
    errors: dict[str, str] = {}
    for key, _parts in meta.sections:
        if len(form.sections.get(key, "")) > MAX_SECTION:
            errors[section_block(key, 0)] = f"{SECTION_TITLES[key]} is over {MAX_SECTION} characters; shorten it."
    finishing = form.decision in ("submit", "approve")
    if finishing and "summary" in dict(meta.sections) and not form.sections.get("summary", "").strip():
        errors[section_block("summary", 0)] = "Write a summary before submitting."
    earlier = {str(i.get("id")): i.get("due") for i in previous}
    for index, item in enumerate(form.items):
        block = form.first_block_of_row.get(index, PostmortemId.DECISION_BLOCK)  # rows the modal had no room for
        missing = [name for name in ("owner", "priority", "due") if not item[name]]
        if not item["title"]:
            errors[block] = f"Give action item {index + 1} a title, or clear its owner, priority and due date."
        elif finishing and missing:
            errors[block] = f"Action item {index + 1} needs {', '.join(missing)} before submission."
        elif item["due"] and item["due"] != earlier.get(item["id"]) and date.fromisoformat(item["due"]) < today:
            errors[block] = f"Action item {index + 1} is due {item['due']}, in the past; pick a later date."
    return errors
