"""The golden-file fixture for the signal tests."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import pytest

from tests.unit.signals.kit import GOLDEN


@pytest.fixture
def golden() -> Callable[[str, Any], None]:
    """Compare `actual` with tests/fixtures/golden/<name>.json; REGEN_GOLDEN=1 rewrites the file instead."""

    def check(name: str, actual: Any) -> None:
        path = GOLDEN / f"{name}.json"
        text = json.dumps(actual, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
        if os.environ.get("REGEN_GOLDEN") == "1":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            return
        if not path.exists():
            pytest.fail(f"golden file {path} is missing: run with REGEN_GOLDEN=1 and review the diff")
        assert json.loads(text) == json.loads(path.read_text(encoding="utf-8")), (
            f"{name}: output differs from {path}; if the change is intended, rerun with REGEN_GOLDEN=1"
        )

    return check
