"""The vendor payload corpus: tests/fixtures/vendors/<source>/<event>.json.

Each file holds `source` (where the payload was taken from), `changed` (what was changed, if anything),
`payload` (the body as the vendor sends it) and `expect` (one object per expected signal).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

VENDORS = Path(__file__).resolve().parents[1] / "fixtures" / "vendors"


def cases() -> list[tuple[str, str]]:
    """(source, name) of every corpus file."""
    return sorted((p.parent.name, p.stem) for p in VENDORS.glob("*/*.json"))


def load(source: str, name: str) -> dict[str, Any]:
    """One corpus file, parsed."""
    return json.loads((VENDORS / source / f"{name}.json").read_text(encoding="utf-8"))
