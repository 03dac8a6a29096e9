"""One delivery, one transaction: batches of signals on SQLite and PostgreSQL, and two processes racing."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bot.bootstrap import App
from handlers.signals import normalize
from incident_core.correlation import CorrelationAction
from incident_core.ingest import GroupingPolicy, IngestOutcome, ingest_batch
from incident_core.usecases import Deps
from storage.candidate_sql import candidates_statement, driver_sql
from storage.engine import scope_to_org
from tests.conftest import make_app
from tests.helpers import in_processes, new_org

T0 = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)


def alert(i: int, *, service: str, status: str = "firing", fingerprint: str | None = None) -> dict[str, Any]:
    labels = {"alertname": f"HighLatency{i % 3}", "service": service, "severity": "critical",
              "instance": f"pod-{i}"}
    starts = (T0 + timedelta(seconds=i)).isoformat().replace("+00:00", "Z")
    return {"status": status, "labels": labels, "annotations": {"summary": f"{service} slow ({i})"},
            "startsAt": starts, "endsAt": "0001-01-01T00:00:00Z", "fingerprint": fingerprint or f"{i:016x}"}


def delivery(alerts: list[dict[str, Any]]) -> dict[str, Any]:
    return {"version": "4", "status": "firing", "receiver": "revenant", "groupKey": "{}:{}", "truncatedAlerts": 0,
            "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am",
            "alerts": alerts}


def batch_of(org_id: str, payload: dict[str, Any]) -> list[tuple[Any, GroupingPolicy]]:
    """The delivery's signals, correlated by service (sender groups off: a whole group would be one incident)."""
    return [(s, GroupingPolicy(sender_groups=False)) for s in normalize(
        "alertmanager", payload, org_id=org_id, project_id=None, received_at=T0)]


class CountingUow:
    """The app's unit of work, counting the transactions opened."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.opened = inner, 0

    @contextmanager
    def __call__(self, org_id: str) -> Iterator[Any]:
        self.opened += 1
        with self.inner(org_id) as tx:
            yield tx


def counting(app: App) -> tuple[Deps, CountingUow]:
    uow = CountingUow(app.deps.uow)
    return replace(app.deps, uow=uow), uow


def numbers(app: App, org_id: str) -> list[int]:
    with app.engine.begin() as conn:
        scope_to_org(conn, org_id)
        return sorted(r[0] for r in conn.execute(sa.text("SELECT number FROM incidents WHERE org_id = :o"),
                                                 {"o": org_id}))


def signal_events(app: App, org_id: str) -> Counter[str]:
    """How many SignalAttached/SignalIgnored events each delivery key has."""
    with app.engine.begin() as conn:
        scope_to_org(conn, org_id)
        rows = conn.execute(sa.text("SELECT data FROM events WHERE org_id = :o AND type IN "
                                    "('SignalAttached', 'SignalIgnored')"), {"o": org_id}).all()
    import json
    return Counter((r[0] if isinstance(r[0], dict) else json.loads(r[0]))["signal"]["delivery_key"] for r in rows)


def test_a_group_of_fifty_alerts_is_one_transaction(app: App) -> None:
    w = new_org(app)
    deps, uow = counting(app)
    alerts = [alert(i, service=f"svc-{i % 5}") for i in range(50)]
    outcomes = ingest_batch(deps=deps, org_id=w.org.id, batch=batch_of(w.org.id, delivery(alerts)))
    assert uow.opened == 1
    assert len(outcomes) == 50 and not any(o.duplicate for o in outcomes)
    # five services: five incidents opened by the first alert of each, the others attach within the batch
    assert sum(o.opened for o in outcomes) == 5
    assert {o.human_id for o in outcomes} == {f"INC-{n}" for n in range(1, 6)}
    assert numbers(app, w.org.id) == [1, 2, 3, 4, 5]
    by_service = {}
    for i, o in enumerate(outcomes):
        by_service.setdefault(f"svc-{i % 5}", set()).add(o.incident_id)
    assert all(len(ids) == 1 for ids in by_service.values())
    state = app.queries.get(w.org.id, "INC-1")
    assert state is not None and state.version == 1 + 10  # declared, then ten signals attached


def test_redelivery_and_repeats_within_a_batch_are_absorbed(app: App) -> None:
    w = new_org(app)
    deps, uow = counting(app)
    alerts = [alert(i, service="api") for i in range(4)]
    first = ingest_batch(deps=deps, org_id=w.org.id, batch=batch_of(w.org.id, delivery(alerts + alerts[:2])))
    assert [o.duplicate for o in first] == [False] * 4 + [True, True]
    assert first[4].incident_id == first[0].incident_id and not first[4].opened
    again = ingest_batch(deps=deps, org_id=w.org.id, batch=batch_of(w.org.id, delivery(alerts)))
    assert all(o.duplicate for o in again)
    assert {o.human_id for o in again} == {"INC-1"}
    assert set(signal_events(app, w.org.id).values()) == {1}
    assert numbers(app, w.org.id) == [1]


def test_a_batch_never_writes_another_orgs_signals(app: App) -> None:
    w, other = new_org(app), new_org(app)
    batch = batch_of(other.org.id, delivery([alert(1, service="api")]))
    try:
        ingest_batch(deps=app.deps, org_id=w.org.id, batch=batch)
    except PermissionError:
        pass
    else:
        raise AssertionError("a batch for another org was written")
    assert numbers(app, w.org.id) == [] and numbers(app, other.org.id) == []


def _ingester(url: str, data_dir: str, org_id: str, tag: str) -> list[tuple[str | None, bool, bool]]:
    app = make_app(url, Path(data_dir))
    try:
        results: list[tuple[str | None, bool, bool]] = []
        for round_ in range(30):
            # every delivery: 4 alerts over 2 of 6 services, half of them sent by the other process too
            alerts = [alert(round_ * 10 + k, service=f"svc-{(round_ + k) % 6}") for k in range(4)]
            shared = [alert(1000 + round_ * 10 + k, service=f"svc-{(round_ + k) % 6}") for k in range(2)]
            outcomes: list[IngestOutcome] = ingest_batch(
                deps=app.deps, org_id=org_id, batch=batch_of(org_id, delivery(shared + [
                    {**a, "fingerprint": f"{tag}-{a['fingerprint']}"} for a in alerts])))
            results += [(o.human_id, o.opened, o.duplicate) for o in outcomes]
        return results
    finally:
        app.close()


def test_two_processes_sharing_keys_open_one_incident_per_key(app: App, db_url: str, tmp_path: Path) -> None:
    w = new_org(app)
    results = in_processes(_ingester, [(db_url, str(tmp_path), w.org.id, tag) for tag in ("left", "right")])
    outcomes = [o for rs in results for o in rs]  # type: ignore[attr-defined]
    # six services share their keys across both processes: six incidents, never two for one service
    assert sum(opened for _, opened, _ in outcomes) == 6
    assert numbers(app, w.org.id) == [1, 2, 3, 4, 5, 6]
    # the alerts both processes sent were recorded once; the other copy was absorbed
    assert sum(dup for _, _, dup in outcomes) == 30 * 2
    assert set(signal_events(app, w.org.id).values()) == {1}
    assert sum(signal_events(app, w.org.id).values()) == 30 * (4 * 2 + 2)
    for state in app.queries.list_incidents(w.org.id, limit=10):
        assert state.signal_count == state.version - 1


def test_correlation_candidates_come_from_the_key_index(pg_app: App) -> None:
    """The full candidate lookup uses ix_incident_keys_recent, even before ANALYZE has seen the table (the bounded
    one, revenant_lock_recent_candidates: tests/storage/test_bounded_candidates.py)."""
    w = new_org(pg_app)
    ingest_batch(deps=pg_app.deps, org_id=w.org.id,
                 batch=batch_of(w.org.id, delivery([alert(i, service=f"svc-{i}") for i in range(20)])))
    with pg_app.engine.begin() as conn:  # an org with many keys, as after a storm; no ANALYZE follows
        scope_to_org(conn, w.org.id)
        conn.execute(sa.text("INSERT INTO incident_keys (incident_id, key, org_id, project_id, last_seen_at) "
                             "SELECT 'i' || (n / 50), 'instance=pod-' || n, :o, NULL, now() "
                             "FROM generate_series(1, 20000) AS n"), {"o": w.org.id})
    # the statement as ingest runs it: rendered once, bound on the server
    sql = driver_sql(candidates_statement(pg=True, project=False, since=False))
    params = {"org": w.org.id, "keys": '["service=svc-3", "alertname=HighLatency0"]', "open": '["triggered"]'}
    with pg_app.engine.begin() as conn:
        scope_to_org(conn, w.org.id)
        plan = "\n".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN {sql}", params))
    assert "ix_incident_keys_recent" in plan, plan
    assert "Seq Scan on incident_keys" not in plan, plan


def test_an_ignored_signal_in_a_batch_leaves_the_others_alone(app: App) -> None:
    w = new_org(app)
    payload = delivery([alert(1, service="api"), {**alert(2, service="db"), "labels": {
        **alert(2, service="db")["labels"], "severity": "info"}}])
    outcomes = ingest_batch(deps=app.deps, org_id=w.org.id, batch=batch_of(w.org.id, payload))
    assert [o.action for o in outcomes] == [CorrelationAction.OPEN, CorrelationAction.IGNORE]
    assert numbers(app, w.org.id) == [1]


class Frozen:
    """A clock that stays where it is put."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


class WatchedUow(CountingUow):
    """Counting, and keeping each transaction's states (read or written) once it ends."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.states: list[list[str]] = []

    @contextmanager
    def __call__(self, org_id: str) -> Iterator[Any]:
        self.opened += 1
        with self.inner(org_id) as tx:
            try:
                yield tx
            finally:
                self.states.append([s.human_id for s in tx.states])


def test_only_the_incident_correlation_picks_is_read(app: App, tmp_path: Path) -> None:
    """A signal sharing a common key with several open incidents reads the state of the one it joins only."""
    w = new_org(app)
    clock = Frozen(T0)
    deps = replace(app.deps, clock=clock)

    def send(i: int, service: str) -> IngestOutcome:
        [outcome] = ingest_batch(deps=deps, org_id=w.org.id, batch=batch_of(w.org.id, delivery(
            [alert(i, service=service)])))
        return outcome

    # three open incidents sharing alertname=HighLatency0, each opened once the one before was past the window
    for n, service in enumerate(("api", "db", "web")):
        clock.at = T0 + timedelta(minutes=31 * n)
        assert send(3 * n, service).opened
    cold = make_app(str(app.engine.url.render_as_string(hide_password=False)), tmp_path / "cold")
    try:  # a process that has cached nothing
        watched = WatchedUow(cold.deps.uow)
        clock.at += timedelta(minutes=1)
        [joined] = ingest_batch(deps=replace(cold.deps, uow=watched, clock=clock), org_id=w.org.id,
                                batch=batch_of(w.org.id, delivery([alert(9, service="web")])))
    finally:
        cold.close()
    assert joined.action is CorrelationAction.ATTACH and joined.human_id == "INC-3"
    # INC-1 and INC-2 share alertname=HighLatency0 and were candidates; only INC-3 was read (then written)
    assert watched.states == [["INC-3", "INC-3"]]


def test_a_cached_state_answers_only_at_the_version_the_candidates_show(app: App, tmp_path: Path) -> None:
    """The process cache answers a load only at the version the candidate lookup (after the key locks) read;
    after another process appended, the row is read and the batch attaches without a retry."""
    w = new_org(app)
    other = make_app(str(app.engine.url.render_as_string(hide_password=False)), tmp_path / "other")
    try:
        [opened] = ingest_batch(deps=app.deps, org_id=w.org.id,
                                batch=batch_of(w.org.id, delivery([alert(1, service="api")])))
        cached = app.deps.uow.cache.get(w.org.id, opened.incident_id)  # type: ignore[attr-defined]
        assert cached is not None

        def candidates_then_load() -> Any:
            with app.deps.uow(w.org.id) as tx:
                tx.lock_keys(["service=api"])
                [candidate] = tx.open_incidents(["service=api"], project_id=None, since=None)
                assert candidate.incident_id == opened.incident_id
                return tx.load(opened.incident_id)

        assert candidates_then_load() is cached  # the same version: no read
        ingest_batch(deps=other.deps, org_id=w.org.id, batch=batch_of(w.org.id, delivery([alert(2, service="api")])))
        fresh = candidates_then_load()
        assert (fresh.version, fresh.signal_count) == (cached.version + 1, 2)
        deps, uow = counting(app)
        [third] = ingest_batch(deps=deps, org_id=w.org.id, batch=batch_of(w.org.id, delivery([alert(3, service="api")])))
        assert (third.incident_id, uow.opened) == (opened.incident_id, 1)  # decided from the fresh state: no retry
        assert app.queries.get(w.org.id, opened.incident_id).signal_count == 3  # type: ignore[union-attr]
    finally:
        other.close()
