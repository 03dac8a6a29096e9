"""`revenant demo` ends with the approved postmortem published to local GitHub and Jira, its Markdown in a file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.demo import run_demo


def test_demo_publishes_the_postmortem_and_writes_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_demo(data_dir=str(tmp_path / "demo"))
    out = capsys.readouterr().out
    assert "drafted: 10 sections, every fact cited [ev N]" in out
    assert "Approve → refused: @bob is a responder" in out
    assert re.search(r"published to github: http://127\.0\.0\.1:\d+/acme/postmortems/pull/1", out)
    assert re.search(r"Jira: OPS-1, OPS-2, OPS-3, OPS-4 \(postmortem \+ action items, linked\); INC-1 is closed", out)
    written = re.search(r"postmortem Markdown written to (\S+)", out)
    assert written is not None
    markdown = Path(written.group(1)).read_text()
    assert markdown.startswith("# Postmortem: INC-1") and "| Status | Published (approved by alice) |" in markdown
    assert "📌 bob: “pool at 198/200 on every checkout pod since the 09:50 deploy”" in markdown
    assert "status resolved → closed: postmortem published to github, jira, knowledge" in out
