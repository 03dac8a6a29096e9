"""Text from signals loses NUL characters and lone surrogates (removed, as docs/signals.md says)."""

from __future__ import annotations

from datetime import UTC, datetime

from handlers.signals import normalize
from handlers.signals._common import clean


def test_lone_surrogates_and_nul_are_removed_not_replaced() -> None:
    assert clean("disk\ud800 full\x00") == "disk full"
    assert clean("a\udfffb") == "ab" and "?" not in clean("a\ud83db")
    assert clean("ok 🔥") == "ok 🔥"  # a real (paired) character stays


def test_a_signal_title_with_a_lone_surrogate_is_stored_without_it() -> None:
    signals = normalize("generic", {"title": "checkout \ud800 errors", "severity": "error", "service": "checkout"},
                        org_id="o", project_id=None, received_at=datetime(2026, 1, 1, tzinfo=UTC))
    assert signals[0].title == "checkout  errors" and "?" not in signals[0].title


def test_ascii_text_loses_only_its_nul_characters() -> None:
    # the fast path for ASCII text (no surrogate can be in it) still removes NUL, and keeps everything else
    assert clean("a\x00b\x00") == "ab"
    assert clean("plain label=value") == "plain label=value"
    assert clean("") == ""
