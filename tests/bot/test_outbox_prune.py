"""`revenant outbox prune` and the retention schedule (bot/outbox_retention.py): the dry run, --org and
--older-than, progress and summary, the setting (off, and its floor), the schedule in a running process, and two
workers' schedules on one PostgreSQL database."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from bot.bootstrap import App
from bot.cli import cli
from bot.outbox_retention import LOCK_NAME, prune_all, start_retention
from bot.settings import Settings
from storage.outbox import Outcome
from storage.outbox_retention import Pruned
from storage.reminder_ledger import SqlReminderLedger
from tests.conftest import make_app
from tests.helpers import new_org
from tests.storage.test_outbox_deliveries import _ctx
from tests.storage.test_outbox_retention import DAY, deliver, keys


def test_the_cli_dry_runs_then_prunes_one_org_or_every_org_with_progress(app: App) -> None:
    a, b = new_org(app).org, new_org(app).org
    for n in range(5):
        deliver(app, a.id, f"a-{n}", ago=20 * DAY)
    deliver(app, a.id, "a-recent", ago=10 * DAY)
    deliver(app, b.id, "b-old", Outcome("Slack", "delivered", 1), Outcome("Teams", "delivered", 1), ago=20 * DAY)
    app.overrides["outbox_prune_batch"] = 2
    runner = CliRunner()

    out = runner.invoke(cli, ["outbox", "prune", "--org", a.name, "--dry-run"], obj=_ctx(app))
    assert out.exit_code == 0, out.output
    assert out.output.startswith("dry run: outbox messages delivered before ") and "(14 day(s)), 1 org(s)" in out.output
    assert f"{a.name} ({a.id}): would delete 5 message(s) and 5 delivery record(s)" in out.output
    assert out.output.endswith("would delete 5 message(s) and 5 delivery record(s) in 1 of 1 org(s)\n")
    assert len(keys(app, a.id)) == 6

    out = runner.invoke(cli, ["outbox", "prune", "--org", a.id, "--older-than", "7"], obj=_ctx(app))
    assert out.exit_code == 0, out.output
    assert f"  {a.name}: 2 message(s) so far…\n  {a.name}: 4 message(s) so far…\n" in out.output  # batches of 2
    assert out.output.endswith("deleted 6 message(s) and 6 delivery record(s) in 1 of 1 org(s)\n")
    assert keys(app, a.id) == set() and keys(app, b.id) == {"b-old"}  # --org: only that org

    out = runner.invoke(cli, ["outbox", "prune"], obj=_ctx(app))  # every org, the configured 14 days
    assert out.exit_code == 0, out.output
    assert f"{b.name} ({b.id}): deleted 1 message(s) and 2 delivery record(s)" in out.output
    assert keys(app, b.id) == set()

    out = runner.invoke(cli, ["outbox", "prune", "--older-than", "0.5"], obj=_ctx(app))
    assert out.exit_code == 2 and "0.5 is not in the range x>=1" in out.output


def test_retention_off_means_no_schedule_and_the_cli_asks_for_a_period(app: App) -> None:
    org = new_org(app).org
    deliver(app, org.id, "old", ago=400 * DAY)
    app.overrides["outbox_retention_days"] = 0
    assert start_retention(app) is None and prune_all(app) is None
    app.settings.outbox_retention_days = 0
    out = CliRunner().invoke(cli, ["outbox", "prune", "--org", org.id], obj=_ctx(app))
    assert out.exit_code == 2 and "outbox retention is off" in out.output and "--older-than DAYS" in out.output
    assert keys(app, org.id) == {"old"}


def test_the_setting_takes_days_or_off_and_refuses_less_than_a_day(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().outbox_retention_days == 14
    monkeypatch.setenv("REVENANT_OUTBOX_RETENTION_DAYS", "off")
    assert Settings().outbox_retention_days == 0
    monkeypatch.setenv("REVENANT_OUTBOX_RETENTION_DAYS", "30")
    assert Settings().outbox_retention_days == 30
    monkeypatch.setenv("REVENANT_OUTBOX_RETENTION_DAYS", "0.5")
    with pytest.raises(ValidationError, match="at least 1 day"):
        Settings()


def test_the_schedule_prunes_in_a_running_process(app: App) -> None:
    org = new_org(app).org
    deliver(app, org.id, "old", ago=20 * DAY)
    deliver(app, org.id, "recent", ago=DAY)
    app.overrides["outbox_prune_interval"] = 0.2
    scheduler = start_retention(app)
    assert scheduler is not None
    try:
        deadline = time.monotonic() + 60
        while "old" in keys(app, org.id) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        scheduler.stop()
    assert keys(app, org.id) == {"recent"}


def test_two_workers_schedules_prune_once_between_them(pg_app: App, postgres_url: str,
                                                      tmp_path: Path) -> None:
    """Two processes' schedules on one database: while one holds the leader lock the other skips its tick; run
    together (even without the lock) they split the rows and delete each once."""
    other = make_app(postgres_url, tmp_path / "other")
    try:
        org = new_org(pg_app).org
        for n in range(30):
            deliver(pg_app, org.id, f"old-{n}", ago=20 * DAY)
        with SqlReminderLedger(other.engine).leader(LOCK_NAME) as leading:  # the other worker is pruning
            assert leading
            assert prune_all(pg_app) is None
        assert len(keys(pg_app, org.id)) == 30

        for one in (pg_app, other):
            one.overrides["outbox_prune_batch"] = 3
        results: dict[str, list[Pruned] | None] = {}

        def tick(name: str, one: App, use_leader: bool) -> None:
            results[name] = prune_all(one, use_leader=use_leader)

        for use_leader in (True, False):
            deliver_more = [deliver(pg_app, org.id, f"more-{use_leader}-{n}", ago=20 * DAY) for n in range(30)]
            assert len(deliver_more) == 30
            threads = [threading.Thread(target=tick, args=(name, one, use_leader))
                       for name, one in (("mine", pg_app), ("other", other))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            ours = [p for done in results.values() if done for p in done if p.org_id == org.id]
            assert sum(p.messages for p in ours) == (60 if use_leader else 30)
            assert keys(pg_app, org.id) == set()
    finally:
        other.close()
