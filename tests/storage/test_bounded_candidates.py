"""The bounded candidate lookup (per key, the open incidents that saw it last) decides every signal as the full
lookup does, on SQLite and PostgreSQL; and it is an ordered index probe that stops early, even before ANALYZE."""

from __future__ import annotations

import importlib.util
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.bootstrap import App
from incident_core import candidates, ingest
from incident_core.ingest import GroupingPolicy, IngestOutcome, ingest_batch
from incident_core.signals import Signal, SignalKind, SignalSeverity, SignalStatus
from storage.candidate_probe import SQLITE_PROBE, probe_params
from storage.engine import scope_to_org
from storage.unit_of_work import SqlTransaction
from tests.conftest import fresh_postgres, make_app
from tests.helpers import new_org
from tests.outbox_guard import owner_engine

_SPEC = importlib.util.spec_from_file_location(
    "migration_0015_keyparam",
    Path(__file__).parents[2] / "storage/migrations/versions/0015_keyparam_json_lookup_params.py")
assert _SPEC is not None and _SPEC.loader is not None
MIGRATION_0015 = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(MIGRATION_0015)

T0 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)

# A small universe, so that keys repeat: strong keys held by one or two incidents, weak ones by most of them.
_KEYS = {
    "trace_id": [f"t{n}" for n in range(4)],
    "sender_group": [f"g{n}" for n in range(3)],
    "alertname+service": [f"a{n}/s{m}" for n in range(2) for m in range(3)],
    "service": [f"s{n}" for n in range(3)],
    "cluster/namespace": ["c/ns0", "c/ns1"],
    "namespace": ["ns0", "ns1"],
    "alertname": ["a0", "a1"],
    "instance": [f"pod-{n}" for n in range(4)],  # an unknown kind: strength 0
}


class TickClock:
    """A clock that moves 1 ms per reading (or not at all: then every signal of a batch ties)."""

    def __init__(self, at: datetime, tick: timedelta) -> None:
        self.at, self.tick = at, tick

    def now(self) -> datetime:
        self.at += self.tick
        return self.at


class CountingIds:
    def __init__(self, prefix: str) -> None:
        self.prefix, self.n = prefix, 0

    def new_id(self) -> str:
        self.n += 1
        return f"{self.prefix}{self.n:05d}"


class RolledBack:
    """A unit of work that decides and writes as the real one does, then rolls back."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    @contextmanager
    def __call__(self, org_id: str) -> Iterator[SqlTransaction]:
        with self.engine.connect() as conn:
            outer = conn.begin()
            try:
                yield SqlTransaction(conn, org_id)
            finally:
                outer.rollback()


@dataclass
class Pools:
    """Every BatchCandidates built, to tell the bounded pools from the full ones."""

    bounded: int = 0
    full: int = 0


def random_signal(rng: random.Random, org_id: str, project_id: str | None, at: datetime) -> Signal:
    keys = [f"fingerprint=f{rng.randrange(30)}"]
    for kind, values in _KEYS.items():
        if rng.random() < 0.35:
            keys.append(f"{kind}={rng.choice(values)}")
    status = SignalStatus.RESOLVED if rng.random() < 0.2 else SignalStatus.FIRING
    return Signal(org_id=org_id, project_id=project_id, source="generic",
                  kind=SignalKind.CHANGE if rng.random() < 0.1 else SignalKind.ALERT, status=status,
                  severity=rng.choice([SignalSeverity.CRITICAL, SignalSeverity.WARNING, SignalSeverity.INFO]),
                  service=None, title=f"signal {rng.random():.6f}", fingerprint=f"fp{rng.random():.9f}",
                  correlation_keys=tuple(keys), starts_at=at)


def random_batch(rng: random.Random, org_id: str, at: datetime) -> list[tuple[Signal, GroupingPolicy]]:
    project = rng.choice([None, None, "p1"])
    return [(random_signal(rng, org_id, project if rng.random() < 0.9 else None, at),
             GroupingPolicy(window=timedelta(minutes=rng.choice([10, 30, 120])), sender_groups=rng.random() < 0.5))
            for _ in range(rng.choice([1, 1, 2, 3, 5]))]


def decided(app: App, org_id: str, batch: list[tuple[Signal, GroupingPolicy]], at: datetime, tick: timedelta,
            ids: str) -> list[tuple[Any, ...]]:
    """The batch's outcomes, rolled back: action, incident, number and the reason (which names the key)."""
    deps = replace(app.deps, uow=RolledBack(app.engine), clock=TickClock(at, tick), ids=CountingIds(ids))
    outcomes: list[IngestOutcome] = ingest_batch(deps=deps, org_id=org_id, batch=batch)
    return [(o.action, o.incident_id, o.human_id, o.reason, o.opened, o.duplicate) for o in outcomes]


@pytest.fixture
def pools(monkeypatch: pytest.MonkeyPatch) -> Pools:
    seen = Pools()

    class Spy(candidates.BatchCandidates):
        def _project(self, project_id: str | None) -> Any:
            before, known = self.bounded, project_id in self._open or candidates.MAX_DEPTH == 0
            found = super()._project(project_id)
            if not known:
                if self.bounded > before:
                    seen.bounded += 1
                else:
                    seen.full += 1
            return found

    monkeypatch.setattr(ingest, "BatchCandidates", Spy)
    return seen


@pytest.mark.parametrize("slack", [0, 1])
def test_the_bounded_lookup_decides_every_signal_as_the_full_one(app: App, pools: Pools, slack: int,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Over generated open-incident sets (weak keys most incidents share, strong ones, windows, ties, resolved
    and closed incidents, two projects) and batches of one to five signals, firing or resolved: the same action,
    incident, matched key and sentence as when every candidate is read."""
    monkeypatch.setattr(candidates, "PROBE_SLACK", slack)  # 1 as shipped; 0 cuts every probe at its depth
    compared = 0
    for seed in range(4):
        rng = random.Random(seed)
        w = new_org(app)
        at = T0
        for round_ in range(70):
            at += timedelta(seconds=rng.choice([0, 1, 1, 60, 600, 1500, 2400]))
            tick = rng.choice([timedelta(0), timedelta(milliseconds=1)])
            batch = random_batch(rng, w.org.id, at)
            if round_ >= 30:  # enough open incidents by now: compare, then keep the batch
                bounded = decided(app, w.org.id, batch, at, tick, f"r{round_}-")
                monkeypatch.setattr(candidates, "MAX_DEPTH", 0)  # every candidate, as before
                full = decided(app, w.org.id, batch, at, tick, f"r{round_}-")
                monkeypatch.setattr(candidates, "MAX_DEPTH", 8)
                assert bounded == full, (seed, round_)
                compared += len(batch)
            deps = replace(app.deps, clock=TickClock(at, tick))
            ingest_batch(deps=deps, org_id=w.org.id, batch=batch)
            if rng.random() < 0.1:  # someone resolves an incident: it leaves the candidates, its keys stay
                with app.engine.begin() as conn:
                    scope_to_org(conn, w.org.id)
                    conn.execute(sa.text("UPDATE incidents SET status = 'resolved' WHERE org_id = :o AND number = "
                                         "(SELECT min(number) FROM incidents WHERE org_id = :o AND status <> "
                                         "'resolved')"), {"o": w.org.id})
    assert compared > 300
    # both paths ran: with one row of slack the probe settles most pools and sends some to the full lookup;
    # cut at their depth, probes rarely settle (the depth-th holder must be newer than the cut, its own row)
    assert pools.bounded > (100 if slack else 10) and pools.full > 5, pools


_UNIVERSE = ["sender_group=g0", "sender_group=g1", "alertname+service=a0/s0", "service=s0", "service=s1",
             "cluster/namespace=c/ns0", "namespace=ns0", "alertname=a0", "alertname=a1", "instance=pod-0"]


def test_over_arbitrary_key_rows_the_bounded_lookup_decides_as_the_full_one(app: App, pools: Pools,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Adversarial key rows: open incidents holding random keys, each seen at its own (often tied) time, so that
    an incident's last signal over the batch's keys often comes from another key than the one it shares. Every
    decision of every batch as with every candidate read, probes cut at their depth (no slack) or one past it."""
    compared = 0
    for seed in range(12):
        rng = random.Random(1000 + seed)
        monkeypatch.setattr(candidates, "PROBE_SLACK", seed % 2)
        w = new_org(app)
        opened = [(replace(random_signal(rng, w.org.id, None, T0), correlation_keys=(f"fingerprint=o{n}",),
                           kind=SignalKind.ALERT, status=SignalStatus.FIRING, severity=SignalSeverity.CRITICAL),
                   GroupingPolicy()) for n in range(rng.randrange(6, 16))]
        ingest_batch(deps=replace(app.deps, clock=TickClock(T0, timedelta(0))), org_id=w.org.id, batch=opened)
        with app.engine.begin() as conn:
            scope_to_org(conn, w.org.id)
            ids = [r[0] for r in conn.execute(sa.text("SELECT id FROM incidents WHERE org_id = :o"), {"o": w.org.id})]
            rows = [{"i": i, "k": k, "o": w.org.id, "at": T0 + timedelta(minutes=rng.randrange(0, 120, 5))}
                    for i in ids for k in _UNIVERSE if rng.random() < 0.4]
            conn.execute(sa.text("INSERT INTO incident_keys (incident_id, key, org_id, project_id, last_seen_at) "
                                 "VALUES (:i, :k, :o, NULL, :at)"), rows)
            conn.execute(sa.text("UPDATE incidents SET status = 'resolved' WHERE org_id = :o AND id IN :closed")
                         .bindparams(sa.bindparam("closed", expanding=True)),
                         {"o": w.org.id, "closed": rng.sample(ids, 2)})
        for round_ in range(12):
            at = T0 + timedelta(minutes=120 + rng.choice([0, 5, 20, 60]))
            batch = [(replace(random_signal(rng, w.org.id, None, at),
                              correlation_keys=tuple(rng.sample(_UNIVERSE, rng.randrange(1, 4)))),
                      GroupingPolicy(window=timedelta(minutes=rng.choice([10, 30, 60, 120])),
                                     sender_groups=rng.random() < 0.7))
                     for _ in range(rng.choice([1, 2, 3, 4]))]
            tick = rng.choice([timedelta(0), timedelta(milliseconds=1)])
            bounded = decided(app, w.org.id, batch, at, tick, f"r{round_}-")
            monkeypatch.setattr(candidates, "MAX_DEPTH", 0)
            full = decided(app, w.org.id, batch, at, tick, f"r{round_}-")
            monkeypatch.setattr(candidates, "MAX_DEPTH", 8)
            assert bounded == full, (seed, round_)
            compared += len(batch)
    assert compared > 200
    assert pools.bounded > 20 and pools.full > 20, pools


def _many_incidents_sharing_a_key(app: App, org_id: str, count: int) -> None:
    """`count` open incidents that all hold `service=api`, and as many older closed ones, as after a storm."""
    with app.engine.begin() as conn:
        scope_to_org(conn, org_id)
        for n, status in ((n, "resolved" if n <= count else "triggered") for n in range(1, 2 * count + 1)):
            conn.execute(sa.text(
                "INSERT INTO incidents (id, org_id, number, title, status, severity, created_at, updated_at, "
                "version, state) SELECT :id, :o, :n, 't', :s, 'sev3', :at, :at, 1, '{}'"),
                {"id": f"{org_id}-{n}", "o": org_id, "n": n, "s": status, "at": T0})
            conn.execute(sa.text("INSERT INTO incident_keys (incident_id, key, org_id, project_id, last_seen_at) "
                                 "VALUES (:id, 'service=api', :o, NULL, :at)"),
                         {"id": f"{org_id}-{n}", "o": org_id, "at": T0 + timedelta(seconds=n)})
        # and the rest of a storm's keys (incidents of other keys: none is open)
        conn.execute(sa.text("INSERT INTO incident_keys (incident_id, key, org_id, project_id, last_seen_at) "
                             "VALUES (:id, :key, :o, NULL, :at)"),
                     [{"id": f"i{n // 50}", "key": f"instance=pod-{n}", "o": org_id, "at": T0} for n in range(20000)])


def _function_query() -> str:
    """The lookup inside revenant_lock_recent_candidates, its arguments and arrays as $1…$5 (what PL/pgSQL
    prepares)."""
    body = MIGRATION_0015.FUNCTION
    query = body[body.index("RETURN QUERY") + len("RETURN QUERY"):body.index(";\nEND")]
    for n, name in enumerate(("p_org", "v_keys", "p_project", "p_top", "v_open"), start=1):
        query = query.replace(name, f"${n}")
    return query


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child)


@pytest.fixture
def fresh_pg_app(tmp_path: Path) -> Iterator[App]:
    """A database of its own, whose tables no ANALYZE has seen (autovacuum off for the two read here)."""
    for url in fresh_postgres("revenant_cand"):
        built = make_app(url, tmp_path)
        with owner_engine(url).begin() as conn:
            conn.exec_driver_sql("ALTER TABLE incident_keys SET (autovacuum_enabled = false)")
            conn.exec_driver_sql("ALTER TABLE incidents SET (autovacuum_enabled = false)")
        try:
            yield built
        finally:
            built.close()


def _explained(app: App, org_id: str, args: str) -> tuple[list[dict[str, Any]], list[Any]]:
    """The function's lookup as PL/pgSQL runs it once it settles on a generic plan: its plan's nodes (run with
    ANALYZE, so with the rows each read) and its rows."""
    with app.engine.begin() as conn:
        scope_to_org(conn, org_id)
        conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
        conn.exec_driver_sql(f"PREPARE probe (text, text[], text, integer, text[]) AS {_function_query()}")
        try:
            [[explained]] = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE probe ({args})").all()
            rows = conn.exec_driver_sql(f"EXECUTE probe ({args})").all()
        finally:
            conn.exec_driver_sql("DEALLOCATE probe")
    return list(_nodes(explained[0]["Plan"])), rows


def _reads_keys_by_index_only(nodes: list[dict[str, Any]]) -> None:
    keys_read = [n for n in nodes if n.get("Relation Name") == "incident_keys"]
    assert {n["Node Type"] for n in keys_read} <= {"Index Scan", "Index Scan Backward", "Index Only Scan"}, nodes
    assert {n["Index Name"] for n in keys_read} == {"ix_incident_keys_recent", "incident_keys_pkey"}, nodes
    assert all(n["Scan Direction"] == "Backward" for n in keys_read if n["Index Name"] == "ix_incident_keys_recent")
    # 300 open incidents hold the key: a probe of 3, then the hits of the 3 found among the 2 keys asked
    assert sum(n["Actual Rows"] * n["Actual Loops"] for n in keys_read) <= 3 + 3 * 2, nodes
    assert not any(n["Node Type"] in ("Sort", "Incremental Sort") and "last_seen_at" in str(n.get("Sort Key"))
                   for n in nodes), nodes


def test_the_probe_walks_the_recent_index_and_stops_early_before_analyze(fresh_pg_app: App) -> None:
    """300 open incidents share a key (and 300 older closed ones hold it too; 20,000 other keys): the function's
    generic plan (what PL/pgSQL settles on) probes ix_incident_keys_recent per key, newest first, and stops; the
    hits of the incidents found come through the primary key. Before ANALYZE has seen the tables, and after."""
    app = fresh_pg_app
    w = new_org(app)
    _many_incidents_sharing_a_key(app, w.org.id, 300)
    args = f"'{w.org.id}', ARRAY['service=api', 'service=db'], NULL, 3, ARRAY['triggered']"
    nodes, rows = _explained(app, w.org.id, args)
    _reads_keys_by_index_only(nodes)
    # the three newest open holders, and the key's frontier: the last of them
    found = sorted((r[0], r[1], r[2]) for r in rows if r[0] is not None)
    assert found == [(f"{w.org.id}-{n}", ["service=api"], T0 + timedelta(seconds=n)) for n in (598, 599, 600)]
    assert [(r[1], r[2]) for r in rows if r[0] is None] == [(["service=api"], T0 + timedelta(seconds=598))]
    with owner_engine(app.engine.url.render_as_string(hide_password=False)).begin() as conn:
        conn.exec_driver_sql("ANALYZE incident_keys")
        conn.exec_driver_sql("ANALYZE incidents")
    nodes, analyzed = _explained(app, w.org.id, args)
    _reads_keys_by_index_only(nodes)
    # each row probed gets its incident's status by id, and each incident found is read by id
    assert {n.get("Index Name") for n in nodes if n.get("Relation Name") == "incidents"} == {"incidents_pkey"}, nodes
    assert sorted(analyzed, key=str) == sorted(rows, key=str)


def test_the_sqlite_probe_walks_the_recent_index(sqlite_app: App) -> None:
    """The same on SQLite: an ordered search of ix_incident_keys_recent per key, the hits by primary key."""
    w = new_org(sqlite_app)
    _many_incidents_sharing_a_key(sqlite_app, w.org.id, 300)
    params = probe_params(w.org.id, ["service=api", "service=db"], project_id=None, top=3,
                          open_statuses=["triggered"])
    with sqlite_app.engine.begin() as conn:
        plan = "\n".join(str(r[-1]) for r in conn.execute(sa.text(f"EXPLAIN QUERY PLAN {SQLITE_PROBE.element.text}"), params))
        rows = conn.execute(SQLITE_PROBE, params).all()
    assert "SEARCH k USING INDEX ix_incident_keys_recent (org_id=? AND key=? AND project_id=?)" in plan, plan
    assert "SEARCH k USING INDEX sqlite_autoindex_incident_keys_1 (incident_id=? AND key=?)" in plan, plan
    lines = plan.splitlines()  # incident_keys is k (the probe, the lookups) and c (the rows probed, by rowid)
    assert "SCAN k" not in lines and "SCAN c" not in lines and "FOR ORDER BY" not in plan, plan
    found = sorted((r[0], r[2]) for r in rows if r[0] is not None)
    assert found == [(f"{w.org.id}-{n}", T0 + timedelta(seconds=n)) for n in (598, 599, 600)]
