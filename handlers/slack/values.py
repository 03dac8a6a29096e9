"""Button values parsed strictly: a tampered, truncated or stale value is a ValidationError, never a crash."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from incident_core.errors import ValidationError

T = TypeVar("T")
STALE = "that button is not one of ours any more (or its value was changed); use the latest message or `/revenant`"
MAX_VALUE = 2000  # Slack's own limit for a button value


def button_object(raw: object) -> dict[str, Any]:
    """The JSON object a button carries; ValidationError for anything else."""
    if not isinstance(raw, str) or not raw or len(raw) > MAX_VALUE:
        raise ValidationError(STALE)
    try:
        value = json.loads(raw)
    except ValueError:
        raise ValidationError(STALE) from None
    if not isinstance(value, dict):
        raise ValidationError(STALE)
    return value


def pick(value: dict[str, Any], key: str, convert: Callable[[Any], T], default: Any = None) -> T:
    """`convert(value[key])` (or of `default` when missing); ValidationError when it does not convert."""
    raw = value.get(key, default)
    if raw is None or isinstance(raw, dict | list | bool):
        raise ValidationError(STALE)
    try:
        return convert(raw)
    except (TypeError, ValueError):
        raise ValidationError(STALE) from None
