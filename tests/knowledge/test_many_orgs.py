"""No search fails because of how many orgs exist: 400 orgs under a 1,024 open-file limit (a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(tmp_path: Path, orgs: int, limit: int, *extra: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-m", "tests.knowledge.many_orgs_worker", str(tmp_path / "data"), str(orgs), str(limit),
         *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=True,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_400_orgs_under_1024_open_files_every_search_answers_from_its_own_org(tmp_path: Path) -> None:
    result = run(tmp_path, 400, 1024)
    assert result["failures"] == 0, result["first_error"]
    assert result["searches"] == 800 and result["wrong"] == 0  # evicted and reopened orgs stay isolated
    assert int(str(result["open_files"])) < 600  # bounded by configuration, not by the 400 orgs
