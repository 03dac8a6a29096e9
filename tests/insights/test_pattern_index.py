"""The pattern-key index (storage/pattern_index.py) answers recurrence checks as loading every state did: the same
decisions, one org at a time, rows equal to the states' own pattern keys, rebuilt from events, and a check
only when an incident's keys changed. On SQLite and PostgreSQL."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from bot.bootstrap import App
from incident_core.intake import intake_signals
from incident_core.patterns import past_incident, pattern_keys
from incident_core.recurrence import DEFAULT_WINDOW, Match, _find_match, best_match, note_recurrence
from incident_core.state import IncidentState
from storage.engine import scope_to_org
from storage.insights_queries import SqlIncidentHistory
from storage.pattern_index import PATTERNS, pattern_rows
from storage.projections import rebuild, snapshot
from tests.conftest import make_app
from tests.helpers import in_processes
from tests.insights.history import StepClock, open_incident, seed, signal

MIGRATION = Path(__file__).parents[2] / "storage/migrations/versions/0011_i18r_pattern_index.py"


@pytest.fixture
def clocked(db_url: str, tmp_path: Path) -> Iterator[tuple[App, StepClock]]:
    clock = StepClock(datetime.now(UTC) - timedelta(days=20))
    app = make_app(db_url, tmp_path, clock=clock)
    yield app, clock
    app.close()


def _states(app: App, org_id: str) -> list[IncidentState]:
    return SqlIncidentHistory(app.engine).opened_since(org_id, datetime(2000, 1, 1, tzinfo=UTC))


def _loaded_match(history: SqlIncidentHistory, state: IncidentState) -> Match | None:
    """The decision as it was made before the index: every state sharing a key loaded and walked."""
    current = past_incident(state)
    found = history.sharing_keys(state.org_id, pattern_keys(current), project_id=state.project_id,
                                 since=state.created_at - DEFAULT_WINDOW)
    return best_match(current, [past_incident(s) for s in found])


def _decision(match: Match | None) -> tuple[str, list[str]] | None:
    return None if match is None else (match.key, [p.incident_id for p in match.prior])


def _index(app: App, org_id: str) -> list[dict[str, object]]:
    with app.engine.begin() as conn:
        scope_to_org(conn, org_id)
        rows = conn.execute(sa.select(PATTERNS).where(PATTERNS.c.org_id == org_id)
                            .order_by(PATTERNS.c.incident_id, PATTERNS.c.key))
        return [{k: v for k, v in r._mapping.items() if k != "checked"} for r in rows]


def _expected(states: list[IncidentState]) -> list[dict[str, object]]:
    return sorted((r for s in states for r in pattern_rows(s)), key=lambda r: (r["incident_id"], r["key"]))


def _same(a: list[dict[str, object]], b: list[dict[str, object]]) -> bool:
    def norm(rows: list[dict[str, object]]) -> list[dict[str, object]]:
        return [{k: v.astimezone(UTC) if isinstance(v, datetime) else v for k, v in r.items()} for r in rows]
    return norm(a) == norm(b)


def _history(app: App, clock: StepClock, org_id: str) -> list[str]:
    """40 incidents over 20 days (resolved, some open, four services), then one open incident per alert."""
    now = clock.at + timedelta(days=20)
    seed(app, clock, org_id, 40, now=now - timedelta(hours=1), every=timedelta(hours=12))
    return [open_incident(app, clock, org_id, i, now + timedelta(hours=3 * i), ack_minutes=1,
                          resolve_minutes=None)
            for i in range(8)]


def test_the_index_gives_the_same_recurrence_decisions_as_loading_states(clocked: tuple[App, StepClock]) -> None:
    app, clock = clocked
    org = app.directory.create_org("index-same").id
    current = _history(app, clock, org)
    history = SqlIncidentHistory(app.engine)
    states = _states(app, org)
    assert _same(_index(app, org), _expected(states))  # the rows are the states' own pattern keys
    decided = 0
    for state in states:
        before, now = _loaded_match(history, state), _find_match(history, state, DEFAULT_WINDOW)
        assert _decision(before) == _decision(now), state.human_id
        decided += before is not None
    assert 8 <= decided < len(states)  # some recur (the eight opened last all do), the first ones cannot
    assert all(_find_match(history, s, DEFAULT_WINDOW) for s in states if s.incident_id in current)


def test_counts_stay_within_the_org_and_the_project(clocked: tuple[App, StepClock]) -> None:
    app, clock = clocked
    a, b = app.directory.create_org("index-a").id, app.directory.create_org("index-b").id
    web = app.directory.create_project(a, "web").id
    start = clock.at
    for org, project in ((a, None), (b, None), (b, None), (a, web)):
        open_incident(app, clock, org, 0, start, ack_minutes=1, resolve_minutes=10, project_id=project)
        start += timedelta(hours=1)
    current = open_incident(app, clock, a, 0, start, ack_minutes=1, resolve_minutes=None)
    history = SqlIncidentHistory(app.engine)
    state = app.queries.get(a, current)
    assert state is not None
    keys = pattern_keys(past_incident(state))
    counts = history.pattern_counts(a, keys, project_id=None, since=start - DEFAULT_WINDOW, resolved_by=start,
                                    exclude=current)
    assert counts == {k: 1 for k in keys}  # org b's two and project web's one are not counted
    assert history.pattern_counts(b, keys, project_id=None, since=start - DEFAULT_WINDOW, resolved_by=start,
                                  exclude=current) == {k: 2 for k in keys}
    assert history.pattern_counts(a, keys, project_id=web, since=start - DEFAULT_WINDOW, resolved_by=start,
                                  exclude=current) == {k: 1 for k in keys}


def test_counts_of_keys_with_quotes_backslashes_braces_and_commas(clocked: tuple[App, StepClock]) -> None:
    app, clock = clocked
    org = app.directory.create_org("index-odd-keys").id
    odd = 'Lat"en\\cy {a,b} NULL'
    start = clock.at
    for _ in range(2):
        open_incident(app, clock, org, 0, start, ack_minutes=1, resolve_minutes=10, alert=odd)
        start += timedelta(hours=1)
    current = open_incident(app, clock, org, 0, start, ack_minutes=1, resolve_minutes=None, alert=odd)
    state = app.queries.get(org, current)
    assert state is not None
    keys = pattern_keys(past_incident(state))
    assert any(odd in k for k in keys)
    history = SqlIncidentHistory(app.engine)
    assert history.pattern_counts(org, [*keys, "alertname=\"never\""], project_id=None,
                                  since=start - DEFAULT_WINDOW, resolved_by=start, exclude=current) == {k: 2 for k in keys}


def test_a_rebuild_and_the_migration_write_the_same_index(clocked: tuple[App, StepClock]) -> None:
    app, clock = clocked
    org = app.directory.create_org("index-rebuild").id
    _history(app, clock, org)
    before = snapshot(app.engine, org)
    assert before["incident_patterns"]
    rebuild(app.engine, org_ids=[org])
    assert snapshot(app.engine, org) == before
    with app.engine.begin() as conn:
        scope_to_org(conn, org)
        conn.execute(PATTERNS.delete().where(PATTERNS.c.org_id == org))
    spec = importlib.util.spec_from_file_location("migration_0011_i18r", MIGRATION)
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    with app.engine.begin() as conn:
        migration._index_existing(conn)  # what the upgrade does for incidents written before it
    assert snapshot(app.engine, org) == before


def test_a_check_runs_only_when_the_incident_pattern_keys_changed(clocked: tuple[App, StepClock]) -> None:
    app, clock = clocked
    org = app.directory.create_org("index-changed").id
    history = SqlIncidentHistory(app.engine)
    incident = open_incident(app, clock, org, 0, clock.at, ack_minutes=1, resolve_minutes=None)  # nothing earlier

    def check() -> None:
        assert note_recurrence(deps=app.deps, queries=app.queries, history=history, tracker=None, org_id=org,
                               incident_id=incident) is None

    assert history.recurrence_unchecked(org, incident)
    check()
    assert not history.recurrence_unchecked(org, incident)
    clock.at += timedelta(minutes=5)
    again = intake_signals(deps=app.deps, org_id=org, signals=[signal(org, 0, clock.at)])[0]  # the same alert again
    assert again.incident_id == incident and not again.opened
    assert not history.recurrence_unchecked(org, incident)  # same keys: the rows were not rewritten
    clock.at += timedelta(minutes=5)
    other = intake_signals(deps=app.deps, org_id=org, signals=[signal(org, 0, clock.at, alert="QueueDepth")])[0]
    assert other.incident_id == incident
    assert history.recurrence_unchecked(org, incident)  # a new alert key: checked again
    state = app.queries.get(org, incident)
    assert state is not None and "alertname+service=QueueDepth/checkout" in pattern_keys(past_incident(state))
    assert _same(_index(app, org), _expected([state]))
    check()
    assert not history.recurrence_unchecked(org, incident)
    rebuild(app.engine, org_ids=[org])  # a replay keeps the mark of unchanged keys
    assert not history.recurrence_unchecked(org, incident)


def test_the_index_is_behind_the_tenant_wall(pg_app: App) -> None:
    clock_at = datetime.now(UTC)
    a, b = pg_app.directory.create_org("index-wall-a").id, pg_app.directory.create_org("index-wall-b").id
    for org in (a, b):
        intake_signals(deps=pg_app.deps, org_id=org, signals=[signal(org, 0, clock_at)])
    with pg_app.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM incident_patterns")).scalar() == 0  # no org bound
    with pg_app.engine.begin() as conn:
        scope_to_org(conn, a)
        orgs = {r.org_id for r in conn.execute(sa.text("SELECT org_id FROM incident_patterns"))}
        assert orgs == {a}
    with pytest.raises(DBAPIError, match="row-level security"), pg_app.engine.begin() as conn:
        scope_to_org(conn, a)
        conn.execute(sa.text("UPDATE incident_patterns SET org_id = :b"), {"b": b})


def _signal_from_another_process(url: str, data_dir: str, org_id: str, at: datetime, alert: str) -> str:
    app = make_app(url, Path(data_dir), clock=StepClock(at))
    try:
        return str(intake_signals(deps=app.deps, org_id=org_id, signals=[signal(org_id, 0, at, alert=alert)])[0]
                   .incident_id)
    finally:
        app.close()


def test_a_rolled_back_append_leaves_no_keys_another_process_commits_differently(
        clocked: tuple[App, StepClock], tmp_path: Path) -> None:
    # The alert keys a state's append computed are remembered on that state (incident_core/patterns.py), and
    # only committed states reach a process's state cache. Process A computes version 4 with QueueDepth and
    # rolls back; process B commits version 4 with DiskFull; A then adds QueueDepth on top of B's version 4:
    # its rows must be rewritten. Had A remembered QueueDepth for (org, incident, 4), A would find nothing
    # changed and the index would miss QueueDepth.
    app, clock = clocked
    org = app.directory.create_org("index-rollback").id
    incident = open_incident(app, clock, org, 0, clock.at, ack_minutes=1, resolve_minutes=None)
    assert app.queries.get(org, incident) is not None  # process A holds version 3 (opened, acknowledged)

    @contextmanager
    def rolled_back(org_id: str) -> Iterator[object]:
        with app.deps.uow(org_id) as tx:
            yield tx
            tx.conn  # noqa: B018 — PostgreSQL: the deferred append is sent, then rolled back
            raise RuntimeError("rolled back after the append")

    clock.at += timedelta(minutes=5)
    with pytest.raises(RuntimeError, match="rolled back"):
        intake_signals(deps=replace(app.deps, uow=rolled_back), org_id=org,
                       signals=[signal(org, 0, clock.at, alert="QueueDepth")])
    clock.at += timedelta(minutes=5)
    url = app.engine.url.render_as_string(hide_password=False)
    assert in_processes(_signal_from_another_process,
                        [(url, str(tmp_path / "b"), org, clock.at, "DiskFull")]) == [incident]
    clock.at += timedelta(minutes=5)
    by_a = intake_signals(deps=app.deps, org_id=org, signals=[signal(org, 0, clock.at, alert="QueueDepth")])[0]
    assert by_a.incident_id == incident
    state = app.queries.get(org, incident)
    assert state is not None and state.version == 5
    keys = pattern_keys(past_incident(state))
    assert {"alertname+service=QueueDepth/checkout", "alertname+service=DiskFull/checkout"} <= set(keys)
    assert _same(_index(app, org), _expected([state]))
