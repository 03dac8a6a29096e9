"""`revenant worker` stops on SIGTERM in the middle of delivering: exit code 0, and nothing it claimed is left
leased — what it did not finish is given back at once for the next worker (SQLite and PostgreSQL)."""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from bot.bootstrap import App
from bot.delivery import SETTLE
from incident_core import usecases as uc
from incident_core.model import OrgRole, Severity, Status
from storage.engine import scope_to_org
from storage.unit_of_work import OUTBOX
from tests.bot.processes import Processes, environment
from tests.helpers import new_org

INCIDENTS = 12


def leased(app: App, org_ids: list[str]) -> int:
    """Outbox messages of these orgs still leased by a process, and delivery claims still held."""
    count = 0
    with app.engine.begin() as conn:
        for org_id in org_ids:
            scope_to_org(conn, org_id)
            count += int(conn.execute(sa.select(sa.func.count()).select_from(OUTBOX).where(
                OUTBOX.c.org_id == org_id, OUTBOX.c.lease_owner.is_not(None),
                OUTBOX.c.delivered_at.is_(None))).scalar_one())
            count += int(conn.execute(sa.text("SELECT count(*) FROM delivery_claims WHERE org_id = :o"),
                                      {"o": org_id}).scalar_one())
    return count


def pending(app: App, org_ids: list[str]) -> int:
    return sum(app.outbox.pending(org_id) for org_id in org_ids)


def not_due(app: App, org_ids: list[str]) -> int:
    """Undelivered messages of these orgs, or subscriber deliveries of them, due only after the refresh window
    with no failure behind it (a refresh of an incident rendered less than SETTLE ago is deferred to the window's
    end, and a failed call waits for its retry: those are fine)."""
    now = datetime.now(UTC) + SETTLE + timedelta(seconds=0.2)
    with app.engine.begin() as conn:
        total = 0
        for org_id in org_ids:
            scope_to_org(conn, org_id)
            total += int(conn.execute(sa.select(sa.func.count()).select_from(OUTBOX).where(
                OUTBOX.c.org_id == org_id, OUTBOX.c.delivered_at.is_(None), OUTBOX.c.last_error.is_(None),
                OUTBOX.c.available_at > now)).scalar_one())
            total += int(conn.execute(sa.text(
                "SELECT count(*) FROM outbox_deliveries WHERE org_id = :o AND state = 'pending' AND last_error IS NULL "
                "AND available_at > :now"),
                {"o": org_id, "now": now}).scalar_one())
        return total


def delivered(app: App, org_ids: list[str]) -> int:
    with app.engine.begin() as conn:
        total = 0
        for org_id in org_ids:
            scope_to_org(conn, org_id)
            total += int(conn.execute(sa.select(sa.func.count()).select_from(OUTBOX).where(
                OUTBOX.c.org_id == org_id, OUTBOX.c.delivered_at.is_not(None))).scalar_one())
        return total


def test_sigterm_mid_delivery_exits_0_and_leaves_nothing_leased(app: App, tmp_path: Path) -> None:
    orgs = [new_org(app).org.id for _ in range(3)]
    for org_id in orgs:  # resolved incidents: each change's delivery feeds the knowledge loop (seconds of work)
        app.directory.set_role(org_id, "u:alice", OrgRole.COMMANDER)
        for n in range(INCIDENTS):
            declared = uc.declare_incident(deps=app.deps, org_id=org_id, actor="u:alice", title=f"checkout 5xx {n}",
                                           severity=Severity.SEV2)
            uc.change_status(deps=app.deps, org_id=org_id, incident_id=declared.state.incident_id, actor="u:alice",
                             status=Status.RESOLVED)
    (tmp_path / "worker").mkdir()
    procs = Processes(environment(tmp_path / "worker", app.settings.database_url or ""), tmp_path)
    try:
        worker = procs.start("worker", "worker")
        deadline = time.monotonic() + 120
        while not delivered(app, orgs) and time.monotonic() < deadline:  # until it is delivering
            assert worker.poll() is None, procs.log("worker")
            time.sleep(0.02)
        assert delivered(app, orgs), procs.log("worker")
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(60) == 0, procs.log("worker")
        log = procs.log("worker")
        assert "SIGTERM received: stopping" in log and "revenant worker stopped" in log, log
        assert "Traceback" not in log, log
        assert pending(app, orgs) > 0, "the worker finished everything before the signal: nothing was tested"
        assert leased(app, orgs) == 0
        assert not_due(app, orgs) == 0  # what the stop gave back is due at once, not after a retry's backoff (2 s)
        procs.running.pop("worker")
        assert procs.start("worker-2", "worker", "--once").wait(120) == 0, procs.log("worker-2")
        assert pending(app, orgs) == 0, procs.log("worker-2")  # nothing lost: the next worker delivers the rest
    finally:
        procs.stop_all()
