"""`revenant demo` runs through Slack: cited suggestions with risk badges in the thread, and a high-risk action
going through two-person approval by button clicks."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.demo import run_demo


def test_demo_shows_cited_suggestions_and_an_approval(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_demo(data_dir=str(tmp_path / "demo"))
    out = capsys.readouterr().out
    assert "knowledge ingest bot/demo_data" in out and "/revenant suggest" in out
    assert "🟢 *1." in out and "🔴 *2." in out and "Source: `runbooks/checkout-5xx.md#diagnosis`" in out
    assert "*Seen before*" in out and "Postmortem: checkout outage after pool size change" in out
    # each click is followed by its own outcome, whatever else the thread receives meanwhile
    assert "clicks [Run (simulated)]\n  revenant     ✅ Simulated run of *run `kubectl -n shop get pods" in out
    assert "alice        clicks [Approve]\n  revenant     ✅ Simulated run of *roll back deployment checkout" in out
    assert "(to bob only) :warning: you requested roll back deployment checkout" in out
    assert "approved by @alice" in out
    assert "approved by alice: roll back deployment checkout in shop" in out  # and it is on the timeline
    assert "as a person reads it in Slack" in out and "📌 pinned" in out  # the channel, rendered
