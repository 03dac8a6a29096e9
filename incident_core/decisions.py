"""Helpers every decider shares: the event envelope and text validation."""

from __future__ import annotations

from typing import Any

from incident_core import commands as cmd
from incident_core.errors import ValidationError
from incident_core.richtext_safety import storable
from incident_core.state import IncidentState


def envelope(state: IncidentState | None, c: cmd.Command, offset: int = 1) -> dict[str, Any]:
    """The envelope fields of the `offset`-th event a command causes."""
    base = state.version if state else 0
    return {
        "org_id": c.org_id, "incident_id": c.incident_id, "version": base + offset,
        "occurred_at": c.occurred_at, "actor": c.actor, "meta": dict(c.meta),
    }


def clean(text: str, what: str, limit: int, *, required: bool = True) -> str:
    """Strip text, make it storable, and check it is present (when required) and within `limit` characters."""
    text = storable((text or "").strip())
    if required and not text:
        raise ValidationError(f"{what} cannot be empty")
    if len(text) > limit:
        raise ValidationError(f"{what} is {len(text)} characters; keep it under {limit}")
    return text
