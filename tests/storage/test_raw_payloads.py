"""A delivery's raw payload is stored once; its signals' events point into it (SQLite and PostgreSQL)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.bootstrap import App
from handlers.signals import normalize
from incident_core.ingest import GroupingPolicy, ingest_batch
from incident_core.raw_payloads import referencing, resolve
from incident_core.signals import Signal
from storage.engine import scope_to_org
from storage.raw_payloads import PAYLOADS, signal_raw
from storage.unit_of_work import EVENTS
from tests.helpers import new_org
from tests.storage.test_ingest_batch import T0, alert, delivery


def ingest(app: App, org: str, payload: dict[str, Any], *, stored_once: bool = True) -> None:
    signals = normalize("alertmanager", payload, org_id=org, project_id=None, received_at=T0)
    if stored_once:
        signals = referencing(signals, payload)
    ingest_batch(deps=app.deps, org_id=org, batch=[(s, GroupingPolicy(sender_groups=False)) for s in signals])


def signal_events(app: App, org: str) -> list[dict[str, Any]]:
    with app.engine.begin() as conn:
        scope_to_org(conn, org)
        rows = conn.execute(sa.select(EVENTS.c.data).where(
            EVENTS.c.org_id == org, EVENTS.c.type.in_(["SignalAttached", "SignalIgnored"]))
            .order_by(EVENTS.c.position)).all()
    return [r.data["signal"] for r in rows]


def payload_rows(app: App, org: str) -> list[Any]:
    with app.engine.begin() as conn:
        scope_to_org(conn, org)
        return [r.payload for r in conn.execute(sa.select(PAYLOADS.c.payload).where(PAYLOADS.c.org_id == org))]


def info(i: int) -> dict[str, Any]:
    item = alert(i, service="api")
    return {**item, "labels": {**item["labels"], "severity": "info"}}  # below the default minimum: ignored


def test_a_group_is_stored_once_and_each_signal_points_at_its_alert(app: App) -> None:
    org = new_org(app).org.id
    payload = delivery([alert(i, service="api") for i in range(20)] + [info(99)])
    ingest(app, org, payload)
    assert payload_rows(app, org) == [payload]
    signals = signal_events(app, org)
    assert len(signals) == 21 and all("raw" not in s for s in signals)
    assert [s["raw_ref"]["pointer"] for s in signals] == [f"/alerts/{i}" for i in range(21)]
    for i, s in enumerate(signals):
        assert signal_raw(app.engine, org, s) == payload["alerts"][i]
        assert Signal.from_dict({**s, "org_id": org}).raw_ref is not None


def test_a_redelivery_and_a_second_delivery_of_the_same_content_keep_one_payload(app: App) -> None:
    org = new_org(app).org.id
    payload = delivery([alert(i, service="api") for i in range(3)])
    ingest(app, org, payload)
    ingest(app, org, payload)  # absorbed: the same delivery keys
    ingest(app, org, delivery([alert(i, service="api") for i in range(3, 6)]))
    assert len(payload_rows(app, org)) == 2
    assert len(signal_events(app, org)) == 6


def test_events_written_with_an_inline_raw_item_stay_readable(app: App) -> None:
    org = new_org(app).org.id
    payload = delivery([alert(1, service="api")])
    ingest(app, org, payload, stored_once=False)  # as events were written before payloads were stored once
    (signal,) = signal_events(app, org)
    assert "raw_ref" not in signal and signal_raw(app.engine, org, signal) == payload["alerts"][0]
    assert Signal.from_dict({**signal, "org_id": org}).raw == payload["alerts"][0]
    assert payload_rows(app, org) == []


def test_pointers_follow_rfc_6901() -> None:
    payload = {"a/b": [{"x~y": {"v": 1}}]}
    assert resolve(payload, "/a~1b/0/x~0y") == {"v": 1}
    assert resolve(payload, "") is payload


def _all_pointers(value: Any, at: str, out: dict[int, str]) -> None:
    """Every object's pointer, first met in a pre-order walk of the whole payload (how `referencing` found them)."""
    if isinstance(value, dict):
        out.setdefault(id(value), at)
        for key, item in value.items():
            if isinstance(item, dict | list):
                _all_pointers(item, f"{at}/{str(key).replace('~', '~0').replace('/', '~1')}", out)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, dict | list):
                _all_pointers(item, f"{at}/{index}", out)


_JSON = st.recursive(st.none() | st.integers() | st.text(max_size=3),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from("ab/~"), inner,
                                                                                 max_size=4), max_leaves=25)


@settings(max_examples=200, deadline=None)
@given(payload=st.dictionaries(st.sampled_from(["x", "a/b", "c~d", "alerts"]), _JSON, min_size=1, max_size=4),
       picks=st.lists(st.integers(0, 10_000), max_size=5), outside=st.integers(0, 2))
def test_the_walk_that_stops_once_every_item_is_found_gives_the_whole_walks_pointers(
        payload: dict[str, Any], picks: list[int], outside: int) -> None:
    every: dict[int, str] = {}
    _all_pointers(payload, "", every)
    objects: list[dict[str, Any]] = []

    def collect(value: Any) -> None:
        if isinstance(value, dict):
            objects.append(value)
            for item in value.values():
                collect(item)
        elif isinstance(value, list):
            for item in value:
                collect(item)

    collect(payload)
    raws = [objects[p % len(objects)] for p in picks] + [{"elsewhere": n} for n in range(outside)]
    base = normalize("alertmanager", {"alerts": [{"status": "firing", "labels": {"alertname": "A"}}]}, org_id="o", project_id=None,
                     received_at=T0)[0]
    signals = [replace(base, raw=raw) for raw in raws]
    placed = referencing(signals, payload)
    for raw, signal in zip(raws, placed, strict=True):
        if id(raw) in every:
            assert signal.raw_ref is not None and signal.raw_ref.pointer == every[id(raw)]
            assert resolve(payload, signal.raw_ref.pointer) is raw and signal.payload is payload
        else:
            assert signal.raw_ref is None and signal.payload is None
