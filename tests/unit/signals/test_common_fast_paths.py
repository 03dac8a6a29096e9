"""The normalizers' shared helpers: fast paths for the usual input give what the full checks give."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from handlers.signals._common import first_label, parse_time, str_map, subject_labels
from handlers.signals.errors import PayloadError


def test_a_plain_map_comes_back_equal_as_a_copy_in_its_order() -> None:
    labels = {"service": "checkout", "alertname": "HighLatency", "": ""}
    out = str_map(labels, "labels")
    assert out == labels and list(out) == list(labels)
    out["service"] = "changed"
    assert labels["service"] == "checkout"  # the payload is not the map handed on


def test_nul_and_lone_surrogates_are_still_removed_from_names_and_values() -> None:
    assert str_map({"ser\x00vice": "check\x00out"}, "labels") == {"service": "checkout"}
    assert str_map({"team": "pay\ud800ments", "zone": "eu 🔥"}, "labels") == {"team": "payments", "zone": "eu 🔥"}


@pytest.mark.parametrize("value, kind", [(3, "a number"), (True, "a boolean"), (None, "null"), (["x"], "an array")])
def test_a_value_that_is_not_a_string_is_refused_with_its_path(value: object, kind: str) -> None:
    with pytest.raises(PayloadError) as caught:
        str_map({"ok": "yes", "bad": value}, "alerts[0].labels")
    assert caught.value.status == 422
    assert "alerts[0].labels.bad" in str(caught.value.as_dict()) and kind in str(caught.value.as_dict())


def test_lenient_maps_still_turn_numbers_and_booleans_into_strings() -> None:
    assert str_map({"count": 3, "ratio": 0.5, "up": True, "name": "x"}, "tags", lenient=True) == \
        {"count": "3", "ratio": "0.5", "up": "true", "name": "x"}


def test_a_map_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(PayloadError):
        str_map(["service", "checkout"], "labels")
    assert str_map(None, "labels") == {}


def test_first_label_skips_missing_and_empty_values() -> None:
    assert first_label({"service": "", "app": "shop"}, ("service", "app")) == "shop"
    assert first_label({"service": ""}, ("service", "app")) is None


def test_an_exporters_own_labels_are_left_out_of_the_subject() -> None:
    labels = {"job": "kube-state-metrics", "service": "prometheus-kube-state-metrics", "pod": "kube-state-metrics-7d9f",
              "namespace": "shop"}
    assert subject_labels(labels) == {"job": "kube-state-metrics", "namespace": "shop"}
    plain = {"service": "checkout", "pod": "checkout-1"}
    assert subject_labels(plain) is plain


@pytest.mark.parametrize("text, expected", [
    ("2026-11-27T08:00:07Z", datetime(2026, 11, 27, 8, 0, 7, tzinfo=UTC)),
    ("2026-11-27T08:00:07.123456789Z", datetime(2026, 11, 27, 8, 0, 7, 123456, tzinfo=UTC)),  # nanoseconds cut
    ("2026-11-27 10:00:07.5+02:00", datetime(2026, 11, 27, 8, 0, 7, 500000, tzinfo=UTC)),
    ("2026-11-27t08:00:07z", datetime(2026, 11, 27, 8, 0, 7, tzinfo=UTC)),
    ("1764230407", datetime(2025, 11, 27, 8, 0, 7, tzinfo=UTC)),
    ("0001-01-01T00:00:00Z", None),
])
def test_timestamps_with_and_without_a_fraction(text: str, expected: datetime | None) -> None:
    assert parse_time(text, "startsAt") == expected


def test_a_timestamp_that_is_not_one_is_refused() -> None:
    with pytest.raises(PayloadError):
        parse_time("2026-13-45T99:00:00Z", "startsAt")
