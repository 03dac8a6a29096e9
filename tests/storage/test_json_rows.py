"""json_rows (the append's rows as JSON text) writes the values json.dumps wrote, whichever encoder runs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from storage.pg_append import json_rows


def _reference(rows: object) -> object:
    def iso(value: object) -> str:
        if isinstance(value, datetime):
            return value.isoformat()
        raise TypeError(type(value).__name__)

    return json.loads(json.dumps(rows, default=iso))


def test_rows_with_datetimes_nested_values_and_integer_keys_match_json_dumps() -> None:
    at = datetime(2026, 11, 27, 8, 0, 1, 4500, tzinfo=UTC)
    rows = [{"org_id": "o", "occurred_at": at, "naive": datetime(2026, 1, 1), "data": {
        "signal": {"labels": {"alertname": "Disk", "é": "ü\u2028"}, "values": [{"name": "p99", "value": 2.5}],
                   "ends_at": None, "count": 3, "flag": True},
        "at": datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=5, minutes=30)))},
        "by_number": {1: "a", 2: "b"}, "tuple": (1, "x")}]
    assert json.loads(json_rows(rows)) == _reference(rows)


def test_what_orjson_refuses_is_encoded_or_refused_as_before() -> None:
    huge = [{"n": 2**70}]
    assert json.loads(json_rows(huge)) == _reference(huge)  # past 64 bits: json.dumps writes it
    surrogate = [{"text": "a\ud800b"}]
    assert json_rows(surrogate) == json.dumps(surrogate)  # the escape PostgreSQL refuses, as before
    with pytest.raises(TypeError):
        json_rows([{"what": object()}])
