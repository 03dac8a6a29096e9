"""Helpers for the signal tests: payload loading, a fixed context, the golden view."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from handlers.signals import normalize
from incident_core.signals import Signal

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
PAYLOADS = FIXTURES / "payloads"
GOLDEN = FIXTURES / "golden"
RECEIVED_AT = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)


def load_payload(source: str, name: str) -> Any:
    """The parsed JSON of tests/fixtures/payloads/<source>/<name>.json."""
    return json.loads((PAYLOADS / source / f"{name}.json").read_text(encoding="utf-8"))


def run(source: str, payload: object, **overrides: Any) -> list[Signal]:
    """Normalize with the fixed test context."""
    kwargs: dict[str, Any] = {"org_id": "org-test", "project_id": None, "received_at": RECEIVED_AT}
    kwargs.update(overrides)
    return normalize(source, payload, **kwargs)


def golden_view(signals: list[Signal]) -> list[dict[str, Any]]:
    """What a golden file holds: each signal's to_dict() without `raw`."""
    return [{k: v for k, v in s.to_dict().items() if k != "raw"} for s in signals]
