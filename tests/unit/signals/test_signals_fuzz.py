"""Any JSON value into any normalizer gives a list of Signals or a PayloadError, never anything else."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlers.signals import SOURCES, PayloadError
from incident_core.signals import Signal
from tests.unit.signals.kit import PAYLOADS, golden_view, load_payload, run

SCALARS = (
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
    | st.sampled_from(["", "0", "firing", "resolved", "0001-01-01T00:00:00Z", "2026-01-15T09:00:00Z",
                       "1768470720000", "P1", "critical", "incident.resolved", "SEVERITY_NUMBER_WARN",
                       "https://x.example/", "javascript:x", "\x00", "\ud800"])
)
JSON = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=25,
)
FIXTURES = {source: [load_payload(source, p.stem) for p in sorted((PAYLOADS / source).glob("*.json"))]
            for source in SOURCES}
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path (tuple of keys/indexes) inside a JSON value, the root included."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _replace(value: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    value = copy.deepcopy(value)
    target = value
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = new
    return value


def _check(source: str, payload: Any) -> None:
    try:
        signals = run(source, payload)
    except PayloadError as error:
        assert error.status == 422
        assert isinstance(error.field, str) and error.message
        return
    assert isinstance(signals, list)
    for signal in signals:
        assert isinstance(signal, Signal)
        assert signal.fingerprint and signal.delivery_key and signal.title
        assert len(signal.title) <= 300 and len(signal.description) <= 4000
        assert signal.starts_at.tzinfo is not None
        view = golden_view([signal])[0]
        json.dumps(view, allow_nan=False).encode("utf-8")  # storable as JSON, valid UTF-8
        assert Signal.from_dict(signal.to_dict()) == signal


@pytest.mark.parametrize("source", list(SOURCES))
@FUZZ
@given(payload=JSON)
def test_random_json_never_crashes(source: str, payload: Any) -> None:
    _check(source, payload)


@pytest.mark.parametrize("source", list(SOURCES))
@FUZZ
@given(data=st.data(), replacement=JSON)
def test_mutated_fixtures_never_crash(source: str, data: st.DataObject, replacement: Any) -> None:
    fixture = data.draw(st.sampled_from(FIXTURES[source]))
    path = data.draw(st.sampled_from(_paths(fixture)))
    _check(source, _replace(fixture, path, replacement))


@pytest.mark.parametrize("source", list(SOURCES))
@FUZZ
@given(data=st.data())
def test_fixtures_with_deleted_fields_never_crash(source: str, data: st.DataObject) -> None:
    fixture = copy.deepcopy(data.draw(st.sampled_from(FIXTURES[source])))
    for path in data.draw(st.lists(st.sampled_from(_paths(fixture)[1:] or [("x",)]), max_size=3)):
        parent = fixture
        try:
            for key in path[:-1]:
                parent = parent[key]
            if isinstance(parent, dict):
                parent.pop(path[-1], None)
        except (KeyError, IndexError, TypeError):
            continue
    _check(source, fixture)
