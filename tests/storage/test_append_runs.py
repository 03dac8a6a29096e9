"""A run of appends to one incident builds its merged call's rows once (storage/append_runs.py): the call sent is
the one built append by append and merged, byte for byte, and what a group stores is the same on SQLite and
PostgreSQL whichever way the call was built."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

import storage.append_runs as runs_module
import storage.unit_of_work as uow_module
from bot.bootstrap import App
from incident_core import events as ev
from incident_core.model import Severity, Status
from incident_core.state import MAX_KEYS, IncidentState, apply
from incident_core.usecases import changed_message
from storage.append_runs import AppendPart, foldable, run_append
from storage.engine import scope_to_org
from storage.pattern_index import pg_statements
from storage.records import event_row
from tests.helpers import new_org
from tests.storage.test_group_ingest_work import _events, _run
from tests.storage.test_ingest_batch import T0, Frozen, alert, delivery

NOW = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)


def _declared(keys: int) -> IncidentState:
    state = apply(None, ev.IncidentDeclared(
        org_id="o", incident_id="i", version=1, occurred_at=NOW, actor="a", number=7, title="t",
        severity=Severity.SEV2, status=Status.TRIGGERED, project_id=None, source="signal:test", summary=""))
    held = {f"k{n}": (NOW - timedelta(seconds=keys - n)).isoformat() for n in range(keys)}
    return IncidentState(**{**state.__dict__, "correlation_keys": held})


# One signal of a run: (fingerprint, new key, seconds after NOW, metric values, kind, resolves instead)
Step = tuple[int, int, int, int, str, bool]


def _parts(start: IncidentState, steps: list[Step]) -> list[AppendPart]:
    """Each step appended after the last, as SqlTransaction.append keeps them (built afresh on every call: the
    append-by-append merge extends the first part's lists in place)."""
    parts, state = [], start
    for fp, key, seconds, values, kind, resolves in steps:
        at = NOW + timedelta(seconds=seconds)
        if resolves:
            event: ev.Event = ev.SignalResolved(org_id="o", incident_id="i", version=state.version + 1, occurred_at=at,
                                                actor="a", fingerprint=f"fp{fp}", title="t", reason="resolved")
        else:
            signal = {"source": "alertmanager", "kind": kind, "status": "firing", "severity": "critical",
                      "title": f"line {fp % 3}" if kind == "log" else f"alert {fp}", "service": f"svc-{fp % 2}",
                      "fingerprint": f"fp{fp}", "starts_at": at.isoformat(),
                      "correlation_keys": [f"fingerprint=fp{fp}", f"k{key}", "service=svc"],
                      "values": [{"name": f"m{n}", "value": float(n)} for n in range(values)]}
            event = ev.SignalAttached(org_id="o", incident_id="i", version=state.version + 1, occurred_at=at,
                                      actor="a", signal=signal, reason="r", matched_key="service=svc")
        after = apply(state, event)
        rows = [event_row(event, project_id=None, recorded_at=at, idempotency_key=f"signal:{fp}:{seconds}",
                          meta={"batch": 1})]
        message = changed_message(after, [event])
        outbox = [{"org_id": "o", "topic": message.topic, "key": message.key, "payload": message.payload,
                   "created_at": at, "available_at": at}]
        payloads = [{"org_id": "o", "id": f"p{seconds}", "payload": {"n": seconds}, "received_at": at}] \
            if seconds % 4 == 0 else []
        parts.append(AppendPart(expected_version=state.version, state=after, events=[event], rows=rows,
                                outbox=outbox, payloads=payloads, patterns=fp % 5 == 0))
        state = after
    return parts


def _sent(run: list[AppendPart], *, fold: bool) -> tuple[Any, ...]:
    call = run_append("o", run, pg_statements, fold=fold)
    return call.statement(), call.after is not None, call.version


_steps = st.lists(st.tuples(st.integers(0, 12), st.integers(0, 400), st.integers(0, 30), st.just(0),
                            st.just("alert"), st.just(False)), min_size=1, max_size=40)


@settings(max_examples=120, deadline=None)
@given(keys=st.integers(MAX_KEYS - 30, MAX_KEYS + 3), steps=_steps)
def test_a_run_of_attached_alerts_sends_the_call_merged_append_by_append(keys: int, steps: list[Step]) -> None:
    start = _declared(keys)
    steps = sorted(steps, key=lambda s: s[2])  # one transaction's clock moves forward
    assert foldable(_parts(start, steps))
    assert _sent(_parts(start, steps), fold=True) == _sent(_parts(start, steps), fold=False)


_any_steps = st.lists(st.tuples(st.integers(0, 12), st.integers(0, 400), st.integers(0, 30), st.integers(0, 3),
                                st.sampled_from(["alert", "alert", "log", "metric"]), st.booleans()),
                      min_size=1, max_size=30)


@settings(max_examples=80, deadline=None)
@given(keys=st.integers(MAX_KEYS - 5, MAX_KEYS + 3), steps=_any_steps)
def test_any_other_run_is_merged_append_by_append(keys: int, steps: list[Step]) -> None:
    """Metric values, log lines and resolutions are read per append: such a run takes the old way (and the
    foldable ones among these still send the same call)."""
    start = _declared(keys)
    run = _parts(start, steps)
    plain = all(not values and kind != "log" and not resolves for _, _, _, values, kind, resolves in steps)
    assert foldable(run) == plain
    assert _sent(_parts(start, steps), fold=True) == _sent(_parts(start, steps), fold=False)


def test_an_opening_starts_a_foldable_run() -> None:
    opened = apply(None, ev.IncidentDeclared(
        org_id="o", incident_id="i", version=1, occurred_at=NOW, actor="a", number=7, title="t",
        severity=Severity.SEV2, status=Status.TRIGGERED, project_id=None, source="signal:test", summary=""))
    first = _parts(opened, [(1, 1, 0, 0, "alert", False)])[0]
    declared = ev.IncidentDeclared(org_id="o", incident_id="i", version=1, occurred_at=NOW, actor="a", number=7,
                                   title="t", severity=Severity.SEV2, status=Status.TRIGGERED, project_id=None,
                                   source="signal:test", summary="")
    first.events.insert(0, declared)
    first.rows.insert(0, event_row(declared, project_id=None, recorded_at=NOW, idempotency_key=None, meta={}))
    first.expected_version = 0

    def run() -> list[AppendPart]:
        head = AppendPart(**{**first.__dict__, "events": list(first.events), "rows": list(first.rows)})
        return [head, *_parts(first.state, [(n, n, n, 0, "alert", False) for n in range(2, 14)])]

    assert foldable(run())
    assert _sent(run(), fold=True) == _sent(run(), fold=False)


def _stored(app: App, org_id: str) -> dict[str, Any]:
    """What the org's groups left: events, the projection, keys, signals, tails and refreshes, without ids."""
    out: dict[str, Any] = {"events": sorted(_events(app, org_id), key=repr)}  # two streams: any order of versions
    queries = {
        "incident": "SELECT number, version, status, state FROM incidents WHERE org_id = :o ORDER BY number",
        "keys": "SELECT i.number, k.key, k.last_seen_at FROM incident_keys k JOIN incidents i ON i.id = k.incident_id "
                "WHERE k.org_id = :o ORDER BY i.number, k.key",
        "signals": "SELECT fingerprint, status, deliveries, last_decision FROM signals WHERE org_id = :o "
                   "ORDER BY fingerprint",
        "recent": "SELECT i.number, r.seq, r.fingerprint, r.status, r.title FROM incident_recent_signals r "
                  "JOIN incidents i ON i.id = r.incident_id WHERE r.org_id = :o ORDER BY i.number, r.seq",
        "refreshes": "SELECT topic, payload FROM outbox WHERE org_id = :o ORDER BY id",
    }
    with app.engine.begin() as conn:
        scope_to_org(conn, org_id)
        for name, sql in queries.items():
            rows = []
            for row in conn.execute(sa.text(sql), {"o": org_id}).all():
                values = []
                for value in row:
                    if isinstance(value, str) and value[:1] in "{[":
                        value = json.loads(value)
                    if isinstance(value, dict):
                        value = {k: v for k, v in value.items() if k not in ("incident_id", "org_id", "key")}
                    values.append(json.dumps(value, sort_keys=True, default=str))
                rows.append(tuple(values))
            out[name] = rows
    return out


def test_groups_store_the_same_rows_built_once_per_run_or_append_by_append(
        app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    """Groups crossing MAX_KEYS keys (evictions, the keys' drop time), mixing two incidents (runs broken and
    resumed) and a resolution (a run built append by append) store the same rows either way."""
    folded, merged = new_org(app), new_org(app)
    clock = Frozen(T0)
    groups = [delivery([alert(0, service="api"), alert(1, service="web")])]
    for g in range(5):
        alerts = [alert(100 * g + n, service="api" if n % 7 else "web") for n in range(2, 62)]
        if g == 3:
            alerts.insert(20, alert(0, service="api", status="resolved"))
        groups.append(delivery(alerts))
    seen: list[bool] = []

    def watched(run: list[AppendPart]) -> bool:
        seen.append(foldable(run))
        return seen[-1]

    monkeypatch.setattr(runs_module, "foldable", watched)
    for w, fold in ((folded, True), (merged, False)):
        with monkeypatch.context() as patch:
            patch.setattr(uow_module, "run_append",
                          lambda org_id, run, after, fold=fold: run_append(org_id, run, after, fold=fold))
            for n, payload in enumerate(groups):
                clock.at = T0 + timedelta(minutes=n)
                _run(app, w.org.id, clock, payload)
    stored = _stored(app, folded.org.id)
    assert stored == _stored(app, merged.org.id)
    state = app.queries.get(folded.org.id, "INC-1")
    assert state is not None and len(state.correlation_keys) >= MAX_KEYS and state.signal_count > 200
    assert len(stored["events"]) > 300
    if app.engine.dialect.name == "postgresql":  # SQLite writes each append's rows as it comes (no calls)
        assert True in seen and False in seen  # runs built once, and the one with the resolution append by append
