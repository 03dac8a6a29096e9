"""The postmortem model: sections, statuses and action items (owner, priority, due date), validated."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from incident_core.errors import ValidationError
from incident_core.richtext_safety import storable
from incident_core.state import IncidentState
from incident_core.state_models import PostmortemItem, PostmortemRecord
from incident_core.state_models import (
    PostmortemStatus as PostmortemStatus,  # its home before the state was typed
)

SECTIONS: tuple[tuple[str, str], ...] = (
    ("summary", "Summary"),
    ("impact", "Impact"),
    ("detection", "Detection"),
    ("response", "Response and recovery"),
    ("timeline", "Timeline (key moments)"),
    ("contributing_factors", "Contributing factors"),
    ("went_well", "What went well"),
    ("went_wrong", "What went wrong"),
    ("lucky", "Where we got lucky"),
    ("links", "Links"),
)
SECTION_TITLES = dict(SECTIONS)
MAX_SECTION = 12_000
MAX_ITEMS = 25
MAX_KEY_MOMENTS = 200
PRIORITIES = ("P1", "P2", "P3", "P4")
KINDS = ("mitigate", "prevent", "detect", "process")


EDITABLE = frozenset({PostmortemStatus.DRAFT, PostmortemStatus.SUBMITTED})
LOCKED = frozenset({PostmortemStatus.APPROVED, PostmortemStatus.PUBLISHING, PostmortemStatus.PUBLISHED})


class FieldError(ValidationError):
    """A validation error about one field (`section.summary`, `action_items.2.owner`), for inline display."""

    def __init__(self, field_path: str, message: str) -> None:
        super().__init__(message)
        self.field = field_path


def add_business_days(start: date, days: int) -> date:
    """The date `days` working days (Monday–Friday) after `start`."""
    current, left = start, days
    while left > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            left -= 1
    return current


def normalize_item(raw: Mapping[str, Any], index: int, *, complete: bool) -> PostmortemItem:
    """One action item with a title, owner, priority (P1–P4), due date (YYYY-MM-DD) and kind."""
    where = f"action_items.{index}"
    title = storable(str(raw.get("title") or "").strip())
    if not title:
        raise FieldError(f"{where}.title", f"action item {index + 1} needs a title")
    if len(title) > 300:
        raise FieldError(f"{where}.title", f"action item {index + 1}: keep the title under 300 characters")
    owner = storable(str(raw.get("owner") or "").strip()[:200])
    priority = str(raw.get("priority") or "").strip().upper()
    if priority and priority not in PRIORITIES:
        raise FieldError(f"{where}.priority", f"action item {index + 1}: priority must be one of P1–P4")
    due = str(raw.get("due") or "").strip()
    if due:
        try:
            date.fromisoformat(due)
        except ValueError:
            raise FieldError(f"{where}.due", f"action item {index + 1}: the due date must look like 2026-12-31") \
                from None
    kind = str(raw.get("kind") or "prevent").strip().lower()
    if kind not in KINDS:
        raise FieldError(f"{where}.kind", f"action item {index + 1}: type must be one of {', '.join(KINDS)}")
    if complete:
        for name, value in (("owner", owner), ("priority", priority), ("due", due)):
            if not value:
                raise FieldError(f"{where}.{name}", f"action item {index + 1} (“{title[:60]}”) needs a {name}")
    cites = sorted({int(v) for v in raw.get("cites") or () if str(v).isdigit()})
    return PostmortemItem(id=str(raw.get("id") or f"ai-{index + 1}")[:40], title=title, owner=owner,
                          priority=priority, due=due, kind=kind, cites=cites)


def normalize_items(items: Any, *, complete: bool = False) -> list[PostmortemItem]:
    """Validate a list of action items (at most MAX_ITEMS)."""
    items = list(items or ())
    if len(items) > MAX_ITEMS:
        raise FieldError("action_items", f"keep it to {MAX_ITEMS} action items; merge or drop some")
    return [normalize_item(dict(item), i, complete=complete) for i, item in enumerate(items)]


def check_complete(pm: PostmortemRecord, human_id: str) -> None:
    """What submission and approval require: a summary and complete action items."""
    if not pm.sections.get("summary", "").strip():
        raise FieldError("section.summary", f"{human_id}'s postmortem needs a summary before it can be submitted")
    normalize_items(pm.action_items, complete=True)


def status_of(s: IncidentState) -> PostmortemStatus | None:
    """The postmortem's status, None when nothing was drafted or reviewed yet."""
    return s.postmortem.status
