"""A group of alerts joining one incident: the work done per alert (decisions, pattern tests) and what is
stored, on SQLite and PostgreSQL. The stored events and outcomes are pinned against a process that has
cached nothing (the path that plans the whole batch and prefetches), so the shortcut changes no result."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import incident_core.ingest as ingest_module
import storage.unit_of_work as uow_module
from bot.bootstrap import App
from incident_core.correlation import CorrelationAction
from incident_core.ingest import IngestOutcome, ingest_batch
from storage.engine import scope_to_org
from storage.pattern_index import pattern_rows
from tests.conftest import make_app
from tests.helpers import new_org
from tests.storage.test_ingest_batch import T0, Frozen, alert, batch_of, delivery


class Counted:
    """Wraps a function, counting its calls."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.calls = inner, 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.inner(*args, **kwargs)


def _group(first: int, size: int) -> dict[str, Any]:
    # one service, so every alert joins the incident the first delivery opened (and new instances add keys)
    return delivery([alert(i, service="api") for i in range(first, first + size)])


def _events(app: App, org_id: str) -> list[tuple[Any, ...]]:
    """The org's incident events without what differs between orgs (the org and incident ids, recorded_at)."""
    with app.engine.begin() as conn:
        scope_to_org(conn, org_id)
        rows = conn.execute(sa.text("SELECT stream_version, type, data, metadata, occurred_at, actor, "
                                    "idempotency_key FROM events WHERE org_id = :o AND stream_id NOT LIKE 'sig%' "
                                    "ORDER BY stream_version"), {"o": org_id}).all()
    out = []
    for version, type_, data, meta, occurred, actor, key in rows:
        data = data if isinstance(data, dict) else json.loads(data)
        meta = meta if isinstance(meta, dict) else json.loads(meta or "{}")
        data.get("signal", {}).pop("org_id", None)
        out.append((version, type_, json.dumps(data, sort_keys=True), json.dumps(meta, sort_keys=True), occurred,
                    actor, key))
    return out


def _run(app: App, org_id: str, clock: Frozen, payload: dict[str, Any], cold_dir: Path | None = None
         ) -> list[IngestOutcome]:
    if cold_dir is None:
        return ingest_batch(deps=replace(app.deps, clock=clock), org_id=org_id, batch=batch_of(org_id, payload))
    cold = make_app(str(app.engine.url.render_as_string(hide_password=False)), cold_dir)
    try:  # a process that has cached nothing: it plans every decision and prefetches the incident
        return ingest_batch(deps=replace(cold.deps, clock=clock), org_id=org_id, batch=batch_of(org_id, payload))
    finally:
        cold.close()


def test_a_group_whose_candidates_are_cached_is_decided_once_per_alert(app: App, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    warm, cold = new_org(app), new_org(app)
    clock = Frozen(T0)
    for w in (warm, cold):
        [opened] = _run(app, w.org.id, clock, _group(0, 1))
        assert opened.opened
    clock.at = T0 + timedelta(minutes=3)
    decisions = Counted(ingest_module.correlate)
    monkeypatch.setattr(ingest_module, "correlate", decisions)
    warm_outcomes = _run(app, warm.org.id, clock, _group(1, 20))
    # this process wrote the incident: its state is cached at the version the candidate lookup reads, so
    # nothing would be prefetched and each alert is decided once (before: the whole batch planned, then again)
    assert decisions.calls == 20
    decisions.calls = 0
    cold_outcomes = _run(app, cold.org.id, clock, _group(1, 20), cold_dir=tmp_path / "cold")
    assert decisions.calls == 20 + 19  # planned for the prefetch, then decided in turn (the first one reused)
    assert [o.action for o in warm_outcomes] == [CorrelationAction.ATTACH] * 20
    strip = [(o.fingerprint, o.action, o.human_id, o.reason, o.opened, o.duplicate) for o in warm_outcomes]
    assert strip == [(o.fingerprint, o.action, o.human_id, o.reason, o.opened, o.duplicate) for o in cold_outcomes]
    assert _events(app, warm.org.id) == _events(app, cold.org.id)
    assert len(_events(app, warm.org.id)) == 2 + 20
    warm_state = app.queries.get(warm.org.id, "INC-1")
    cold_state = app.queries.get(cold.org.id, "INC-1")
    assert warm_state is not None and cold_state is not None
    assert (warm_state.version, warm_state.signal_count, warm_state.correlation_keys) == \
        (cold_state.version, cold_state.signal_count, cold_state.correlation_keys)


def test_candidates_known_only_when_each_state_is_held_at_the_version_read(app: App, tmp_path: Path) -> None:
    w = new_org(app)
    [opened] = ingest_batch(deps=app.deps, org_id=w.org.id, batch=batch_of(w.org.id, _group(0, 1)))

    def known(a: App) -> bool:
        with a.deps.uow(w.org.id) as tx:
            tx.lock_keys(["service=api"])
            assert [c.incident_id for c in tx.open_incidents(["service=api"], project_id=None, since=None)] == \
                [opened.incident_id]
            return bool(tx.candidates_known())

    with app.deps.uow(w.org.id) as tx:
        assert tx.candidates_known()  # no lookup yet: nothing to read
        assert tx.open_incidents(["service=nothing-here"], project_id=None, since=None) == []
        assert tx.candidates_known()
    assert known(app)  # written by this process: cached at the version read
    other = make_app(str(app.engine.url.render_as_string(hide_password=False)), tmp_path / "other")
    try:
        assert not known(other)  # another process holds nothing
        ingest_batch(deps=other.deps, org_id=w.org.id, batch=batch_of(w.org.id, _group(1, 1)))
        assert not known(app)  # the cache holds an older version now
        with app.deps.uow(w.org.id) as tx:
            tx.lock_keys(["service=api"])
            tx.open_incidents(["service=api"], project_id=None, since=None)
            assert tx.load(opened.incident_id) is not None  # read in this transaction: known from then on
            assert tx.candidates_known()
    finally:
        other.close()


def test_a_group_tests_the_pattern_keys_once_and_stores_the_last_states_rows(
        pg_app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    app = pg_app
    w = new_org(app)
    clock = Frozen(T0)
    _run(app, w.org.id, clock, _group(0, 1))
    tests = Counted(uow_module.patterns_changed)
    monkeypatch.setattr(uow_module, "patterns_changed", tests)
    clock.at = T0 + timedelta(minutes=1)
    outcomes = _run(app, w.org.id, clock, _group(1, 20))
    assert {o.human_id for o in outcomes} == {"INC-1"}
    # the first append adds HighLatency1/HighLatency2's keys: the merged call rewrites the rows, so the 19
    # appends merged into it test nothing (before: each of the 20 tested the keys)
    assert tests.calls == 1
    state = app.queries.get(w.org.id, "INC-1")
    assert state is not None and state.signal_count == 21
    with app.engine.begin() as conn:
        scope_to_org(conn, w.org.id)
        stored = conn.execute(sa.text("SELECT key, signature FROM incident_patterns WHERE org_id = :o "
                                      "ORDER BY key"), {"o": w.org.id}).all()
    expected = sorted((r["key"], r["signature"]) for r in pattern_rows(state))
    assert [tuple(r) for r in stored] == expected
    assert {k for k, _ in expected} >= {f"alertname+service=HighLatency{n}/api" for n in range(3)}


def _refreshes(app: App, org_id: str) -> list[tuple[str, dict[str, Any]]]:
    with app.engine.begin() as conn:
        scope_to_org(conn, org_id)
        rows = conn.execute(sa.text("SELECT key, payload FROM outbox WHERE org_id = :o AND topic = 'incident.changed' "
                                    "ORDER BY id"), {"o": org_id}).all()
    return [(key, payload if isinstance(payload, dict) else json.loads(payload)) for key, payload in rows]


def test_a_group_leaves_one_refresh_per_incident_on_postgresql(app: App) -> None:
    """Appends merged into one call (PostgreSQL) leave the incident one `incident.changed` message, named for the
    last version: a claim would fold the others into it anyway. SQLite, appending one by one, leaves one each."""
    w = new_org(app)
    clock = Frozen(T0)
    [opened] = _run(app, w.org.id, clock, _group(0, 1))
    before = _refreshes(app, w.org.id)
    clock.at = T0 + timedelta(minutes=3)
    outcomes = _run(app, w.org.id, clock, _group(1, 20))
    assert [o.action for o in outcomes] == [CorrelationAction.ATTACH] * 20
    state = app.queries.get(w.org.id, "INC-1")
    assert state is not None
    new = _refreshes(app, w.org.id)[len(before):]
    if app.engine.dialect.name == "postgresql":
        assert len(new) == 1
        key, payload = new[0]
        assert key == f"changed:{state.incident_id}:{state.version}" and payload["version"] == state.version
        assert payload["incident_id"] == state.incident_id and "SignalAttached" in payload["types"]
        assert len(payload["types"]) == len(set(payload["types"]))
    else:
        assert len(new) == 20 and new[-1][0] == f"changed:{state.incident_id}:{state.version}"
