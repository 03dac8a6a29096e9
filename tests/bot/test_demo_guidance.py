"""`revenant demo` shows cited suggestions with risk badges and a high-risk action going through approval."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.demo import run_demo


def test_demo_shows_cited_suggestions_and_an_approval(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_demo(data_dir=str(tmp_path / "demo"))
    out = capsys.readouterr().out
    assert "knowledge ingest bot/demo_data" in out and "/revenant suggest" in out
    assert "🟢 read-only" in out and "🔴 high" in out and "source runbooks/checkout-5xx.md#diagnosis" in out
    assert "🕘 seen before: Postmortem: checkout outage after pool size change" in out
    assert "Run (simulated) on" in out and "→ executed: [simulated]" in out
    assert "Approve → refused: you requested roll back deployment checkout" in out
    assert "Approve → executed (approved by alice)" in out
    assert "approved by alice: roll back deployment checkout in shop" in out  # and it is on the timeline
