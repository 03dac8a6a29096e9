"""One source of truth for the projection rules: PostgreSQL's append function is generated from the statements
SQLite runs, and both databases project the same events into the same rows."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.bootstrap import App
from incident_core import usecases as uc
from incident_core.ingest import ingest_batch
from incident_core.model import Status
from storage.append_rules import append_function_sql
from storage.projections import snapshot
from tests.conftest import make_app
from tests.helpers import new_org
from tests.storage.test_ingest_batch import alert, batch_of, delivery
from tests.storage.test_signal_tail import alert as generic_alert
from tests.storage.test_signal_tail import deliver, log, metric

T0 = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


class SteppedClock:
    """Moves one minute when the scenario says so: both databases see the same times, whatever they retry."""

    def __init__(self) -> None:
        self.at = T0

    def now(self) -> datetime:
        return self.at

    def step(self) -> None:
        self.at += timedelta(minutes=1)


class CountingIds:
    def __init__(self) -> None:
        self._n = itertools.count(1)

    def new_id(self) -> str:
        return f"inc{next(self._n):08d}"


def test_the_installed_function_is_the_generated_one(pg_app: App) -> None:
    with pg_app.engine.begin() as conn:
        installed = conn.execute(sa.text("SELECT prosrc FROM pg_proc WHERE proname = 'revenant_append'")).scalar()
    generated = append_function_sql().split("$$")[1]
    assert installed == generated, ("revenant_append differs from storage/append_rules.py: add a migration that "
                                    "installs append_function_sql() again")


def _scenario(app: App) -> tuple[str, dict[str, list[dict[str, Any]]]]:
    """The same events, in the same order, on one database: its org id and every projection row."""
    w = new_org(app, "parity")
    org = w.org.id
    step = app.deps.clock.step  # type: ignore[attr-defined]

    def tail_org_signals(org: str) -> None:
        for start in range(0, 40, 20):
            deliver(app, org, [metric(n) for n in range(start, start + 20)])
        deliver(app, org, [log(300 + n, 25) for n in range(40)] + [generic_alert(400), generic_alert(400, "resolved")])

    # 230 alerts of one service: more than MAX_KEYS (200) fingerprint keys, so the trim rule runs
    for start in range(0, 230, 10):
        step()
        ingest_batch(deps=app.deps, org_id=org, batch=batch_of(org, delivery(
            [alert(i, service="api") for i in range(start, start + 10)])))
    step()
    ingest_batch(deps=app.deps, org_id=org, batch=batch_of(org, delivery([  # repeats, a new service, a resolve
        alert(3, service="api"), alert(500, service="db"),
        {**alert(4, service="api", status="resolved"), "endsAt": "2026-12-06T08:30:00Z"},
        {**alert(501, service="cache"), "labels": {**alert(501, service="cache")["labels"], "severity": "info"}},
    ])))
    step()  # the signal tail: metric points and log lines past their caps, a resolve of a recent signal
    tail_org_signals(org)
    step()
    uc.change_status(deps=app.deps, org_id=org, incident_id="inc00000001", actor="u:alice", status=Status.MITIGATED)
    uc.add_note(deps=app.deps, org_id=org, incident_id="inc00000002", actor="u:bob", text="looking")
    return org, snapshot(app.engine, org)


def _plain(value: Any, org: str) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, str):
        if value.startswith(("{", "[")):
            try:
                return _plain(json.loads(value), org)
            except ValueError:
                pass
        return value.replace(org, "ORG")
    if isinstance(value, dict):
        return {k: _plain(v, org) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v, org) for v in value]
    return value


@pytest.fixture
def twin_apps(postgres_url: str, tmp_path: Path) -> Iterator[tuple[App, App]]:
    lite = make_app(f"sqlite:///{tmp_path / 'lite.db'}", tmp_path / "lite", clock=SteppedClock(), ids=CountingIds())
    pg = make_app(postgres_url, tmp_path / "pg", clock=SteppedClock(), ids=CountingIds())
    yield lite, pg
    lite.close()
    pg.close()


def test_sqlite_and_postgresql_project_the_same_events_identically(twin_apps: tuple[App, App]) -> None:
    lite, pg = twin_apps
    lite_org, lite_rows = _scenario(lite)
    pg_org, pg_rows = _scenario(pg)
    assert len(lite_rows["incident_keys"]) < 230  # api was trimmed to its newest keys
    assert lite_rows["signals"] and lite_rows["incidents"]
    assert len(lite_rows["incident_metric_points"]) == 60 and len(lite_rows["incident_log_lines"]) == 20
    assert "resolved" in {r["status"] for r in lite_rows["incident_recent_signals"]}
    for table in lite_rows:
        assert _plain(lite_rows[table], lite_org) == _plain(pg_rows[table], pg_org), table
