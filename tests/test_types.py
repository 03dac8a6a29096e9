"""mypy over the product packages (strict on incident_core), as configured in pyproject.toml.

It runs in the suite so a type error fails CI like any other test. The cache lives under .venv, so a
run after a small change re-checks only what changed: about 2 s of CPU warm, 40 s cold (docs/architecture.md).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.timeout(900)  # a cold cache on a busy machine takes minutes; a warm one seconds
def test_mypy_is_clean() -> None:
    done = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml")],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"mypy found type errors:\n{done.stdout}{done.stderr}"
