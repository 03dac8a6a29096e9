"""Outbox retention on a schedule: every hour `revenant worker` (and `serve`) prunes every org's delivered outbox
messages older than REVENANT_OUTBOX_RETENTION_DAYS (storage/outbox_retention.py); `revenant outbox prune` does it by
hand.

APScheduler keeps time only (a MemoryJobStore per process, like the reminders). Two processes may both tick: on
PostgreSQL a session advisory lock lets one of them prune at a time (the other skips that tick), and even without
it the batches take their rows with SKIP LOCKED, so two prunes split the rows and never delete anything twice or
wait for each other. A stop ends the prune between two batches.
"""

from __future__ import annotations

import logging
import threading
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.bootstrap import App
from storage.outbox_retention import BATCH, Pruned, SqlOutboxRetention, cutoff
from storage.reminder_ledger import SqlReminderLedger

log = logging.getLogger("revenant.retention")
LOCK_NAME = "revenant-outbox-retention"
DEFAULT_INTERVAL = 3600.0  # seconds between prunes (the override `outbox_prune_interval` for tests)


def retention_days(app: App) -> float:
    """How many days delivered messages are kept (0: forever): the setting, or the app's override."""
    return float(app.overrides.get("outbox_retention_days", app.settings.outbox_retention_days))


def prune_all(app: App, *, stopping: threading.Event | None = None, use_leader: bool = True) -> list[Pruned] | None:
    """Prune every org once with the configured retention; None when retention is off or another process is at
    it. Logs each org that had something to prune."""
    days = retention_days(app)
    if days <= 0:
        return None
    before = cutoff(days)
    stop = stopping or threading.Event()
    # the reminders' leader lock under another name: one session advisory lock per name on PostgreSQL
    with SqlReminderLedger(app.engine).leader(LOCK_NAME) if use_leader else nullcontext(True) as leading:
        if not leading:
            log.info("outbox retention skipped: another process is pruning")
            return None
        retention = SqlOutboxRetention(app.engine, batch=int(app.overrides.get("outbox_prune_batch", BATCH)))
        done = retention.prune([org.id for org in app.directory.orgs()], before=before, stopping=stop.is_set)
    for pruned in done:
        if pruned.messages:
            log.info("outbox retention: org %s: %d message(s) and %d delivery record(s) delivered before %s "
                     "deleted", pruned.org_id, pruned.messages, pruned.deliveries, before.isoformat(timespec="seconds"))
    return done


class RetentionScheduler:
    """An APScheduler BackgroundScheduler running `prune_all` every `interval` seconds in this process."""

    def __init__(self, app: App, *, interval: float | None = None) -> None:
        self.app = app
        self.interval = float(interval or app.overrides.get("outbox_prune_interval", DEFAULT_INTERVAL))
        self.stopping = threading.Event()
        self.scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1,
                                                                           "misfire_grace_time": None})

    def start(self) -> RetentionScheduler:
        """Schedule the prune (first run one interval from now) and start the scheduler thread."""
        first = datetime.now(UTC) + timedelta(seconds=self.interval)
        self.scheduler.add_job(_safe_prune, IntervalTrigger(seconds=self.interval), args=[self.app, self.stopping],
                               id="revenant-outbox-retention", replace_existing=True, next_run_time=first)
        self.scheduler.start()
        log.info("outbox retention: delivered messages kept %s day(s), pruned every %.0f s",
                 retention_days(self.app), self.interval)
        return self

    def stop(self) -> None:
        """A prune under way stops after its current batch."""
        self.stopping.set()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)


def _safe_prune(app: App, stopping: threading.Event) -> None:
    try:
        prune_all(app, stopping=stopping)
    except Exception:  # noqa: BLE001 — a failed prune is retried by the next tick
        log.exception("outbox retention failed")


def start_retention(app: App) -> RetentionScheduler | None:
    """The schedule for `revenant worker` and `serve` (off with the `no_scheduler` override, or retention 0/off)."""
    days = retention_days(app)
    if app.overrides.get("no_scheduler") or days <= 0:
        return None
    return RetentionScheduler(app).start()


def attach(web_app: web.Application, app: App) -> None:
    """`revenant serve`: run the schedule for the life of the web app (single-process deployments)."""
    holder: dict[str, Any] = {}

    async def on_startup(_app: web.Application) -> None:
        holder["scheduler"] = start_retention(app)

    async def on_cleanup(_app: web.Application) -> None:
        if holder.get("scheduler") is not None:
            holder["scheduler"].stop()

    web_app.on_startup.append(on_startup)
    web_app.on_cleanup.append(on_cleanup)
