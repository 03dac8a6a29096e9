"""json_safe (what is stored of an event's data and of a raw payload): NUL and lone surrogates replaced,
everything else handed back as it came, whichever encoder checked it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from storage.records import json_safe


@pytest.mark.parametrize("value", [
    {"labels": {"alertname": "Disk", "é": "ü\u2028", "emoji": "🔥"}, "values": [1, 2.5, None, True]},
    {1: "integer keys", "nested": [{"deep": ["x"] * 3}]},
    {"big": 2**70, "text": "plain"},  # past 64 bits: the json.dumps check decides
    {"escaped text, not a NUL": "\\u0000 and \\ud800"},
    ["a", ("tuple", 1)],
    "just text", 3, None,
])
def test_storable_values_come_back_equal(value: Any) -> None:
    assert json_safe(value) == value


def test_nul_and_lone_surrogates_become_the_replacement_character() -> None:
    value = {"a\x00": ["x\x00y", {"s": "lone \ud800 high", "t": "lone \udfff low"}], "ok": "fine", 3: "\x00"}
    assert json_safe(value) == {"a\ufffd": ["x\ufffdy", {"s": "lone \ufffd high", "t": "lone \ufffd low"}],
                                "ok": "fine", 3: "\ufffd"}
    assert json_safe("\x00") == "\ufffd"
    assert json_safe({"big": 2**70, "nul": "\x00"}) == {"big": 2**70, "nul": "\ufffd"}


def test_what_json_cannot_hold_is_still_refused() -> None:
    with pytest.raises(TypeError):
        json_safe({"at": datetime(2026, 12, 7, tzinfo=UTC)})
    with pytest.raises(TypeError):
        json_safe({"set": {1, 2}})
