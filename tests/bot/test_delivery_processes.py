"""Delivery across processes: exactly once per subscriber with two deliverers, and a kill -9 mid-delivery
(SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from bot.bootstrap import App
from incident_core.ports import OutboxMessage
from storage.engine import scope_to_org
from storage.reminder_ledger import SqlReminderLedger
from storage.unit_of_work import OUTBOX
from tests.bot.delivery_child import TOPIC
from tests.helpers import new_org

ROOT = Path(__file__).resolve().parents[2]


def put(app: App, org_id: str, key: str) -> None:
    assert SqlReminderLedger(app.engine).fire(org_id, OutboxMessage(topic=TOPIC, key=key, payload={}))


def spawn(app: App, tmp_path: Path, log: Path, orgs: list[str], **env: str) -> subprocess.Popen[bytes]:
    url = app.settings.database_url or ""
    return subprocess.Popen([sys.executable, "-m", "tests.bot.delivery_child", url, str(tmp_path), str(log), *orgs],
                            cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def lines(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def wait_for(log: Path, text: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(line.startswith(text) for line in lines(log)):
            return
        time.sleep(0.05)
    raise AssertionError(f"no {text!r} in {log}: {lines(log)}")


def test_two_processes_deliver_each_subscriber_exactly_once(app: App, tmp_path: Path) -> None:
    orgs = [new_org(app).org.id for _ in range(3)]
    keys = {f"{org[:6]}-{i}" for org in orgs for i in range(15)}
    for org in orgs:
        for i in range(15):
            put(app, org, f"{org[:6]}-{i}")
    log = tmp_path / "calls.log"
    children = [spawn(app, tmp_path, log, orgs) for _ in range(2)]
    for child in children:
        assert child.wait(120) == 0, child.stderr.read().decode() if child.stderr else ""
    calls = Counter(" ".join(line.split()[:3]) for line in lines(log) if line.startswith("call"))
    mine = {c: n for c, n in calls.items() if c.split()[2] in keys}
    assert len(mine) == 2 * len(keys) and set(mine.values()) == {1}, mine
    assert len({line.split()[3] for line in lines(log) if line.startswith("call")}) >= 1
    assert all(app.outbox.pending(org) == 0 for org in orgs)


def test_kill_9_mid_delivery_frees_the_rest_at_once_and_posts_nothing_twice(app: App, tmp_path: Path) -> None:
    org = new_org(app).org.id
    keys = [f"m{i}" for i in range(8)]
    for key in keys:
        put(app, org, key)
    log = tmp_path / "calls.log"
    first = spawn(app, tmp_path, log, [org], HANG_KEY="m3", LEASE_SECONDS="30")
    wait_for(log, "post m3")
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    before = len(lines(log))
    second = spawn(app, tmp_path, log, [org])
    for key in ("m4", "m5", "m6", "m7"):
        wait_for(log, f"post {key}")  # the rest is free at once: nothing else of it was claimed
    assert not [line for line in lines(log)[before:] if line.startswith("call post m3")]  # m3: still leased
    with app.engine.begin() as conn:  # its lease lapses (30 s, no longer extended by the dead process)
        scope_to_org(conn, org)
        conn.execute(OUTBOX.update().where(OUTBOX.c.org_id == org, OUTBOX.c.key == "m3")
                     .values(available_at=datetime.now(UTC)))
    assert second.wait(120) == 0, second.stderr.read().decode() if second.stderr else ""
    after = [line.split()[2] for line in lines(log)[before:] if line.startswith("call post")]
    assert after == ["m4", "m5", "m6", "m7", "m3"]  # m0–m2 finished before the kill: not again
    posts = Counter(line.split()[1] for line in lines(log) if line.startswith("post "))
    assert posts == Counter({key: 1 for key in keys})
    assert app.outbox.pending(org) == 0
