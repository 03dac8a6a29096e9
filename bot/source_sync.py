"""Runbook sources in the app: the store, the syncer, a sync of every source on a schedule, and the
GitHub push webhook's callbacks. Syncs run once per source across processes (an advisory lock on PostgreSQL)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.bootstrap import App
from incident_core.knowledge_sources import KnowledgeSource, SyncReport, sync_source, verify_push

log = logging.getLogger("revenant.sources")
PUSH_RETRIES = 30
PUSH_RETRY_SECONDS = 2.0


def sync_one(app: App, org_id: str, source_id: str) -> SyncReport:
    """Sync one source now (skipped when another process is at it)."""
    return sync_source(sources=app.knowledge_sources, syncer=app.source_syncer, org_id=org_id,
                       source_id=source_id, now=lambda: datetime.now(UTC))


def sync_all(app: App) -> int:
    """Sync every source of every org; failures are recorded on the source and logged. Sources synced."""
    synced = 0
    for org_id in app.knowledge_sources.orgs_with_sources():
        for source in app.knowledge_sources.list_sources(org_id):
            try:
                report = sync_one(app, org_id, source.source_id)
            except Exception:  # noqa: BLE001 - recorded on the source; the next tick retries
                log.exception("syncing %s of org %s failed", source.describe(), org_id)
                continue
            synced += 0 if report.skipped else 1
            log.info("synced %s of org %s: %s", source.describe(), org_id, report.summary())
    return synced


def verifier(app: App) -> Any:
    """The push endpoint's check: the source whose secret signed the body (SignatureInvalid otherwise)."""

    def verify(org_id: str, source_id: str, body: bytes, signature: str) -> KnowledgeSource:
        return verify_push(sources=app.knowledge_sources, org_id=org_id, source_id=source_id, body=body,
                           signature=signature)

    return verify


def scheduler_for_pushes(app: App) -> Any:
    """The push endpoint's follow-up: sync the pushed source in the background (the webhook answers first)."""
    running: set[asyncio.Task[Any]] = set()

    def schedule(source: KnowledgeSource) -> None:
        async def run() -> None:
            # A sync already running may have read the ref before this push: wait for it, then sync again.
            for _attempt in range(PUSH_RETRIES):
                try:
                    report = await asyncio.to_thread(sync_one, app, source.org_id, source.source_id)
                except Exception:  # noqa: BLE001 - recorded on the source; the schedule retries
                    log.exception("push sync of %s failed", source.describe())
                    return
                if not report.skipped:
                    log.info("push synced %s of org %s: %s", source.describe(), source.org_id, report.summary())
                    return
                await asyncio.sleep(PUSH_RETRY_SECONDS)
            log.warning("push sync of %s gave up: %s", source.describe(), report.skipped)

        task = asyncio.get_running_loop().create_task(run())
        running.add(task)
        task.add_done_callback(running.discard)

    return schedule


class SourceScheduler:
    """An APScheduler job that syncs every source every `minutes` in this process."""

    def __init__(self, app: App, minutes: float) -> None:
        self.app = app
        self.minutes = minutes
        self.scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1,
                                                                           "misfire_grace_time": None})

    def start(self) -> SourceScheduler:
        """First run one interval from now."""
        first = datetime.now(UTC) + timedelta(minutes=self.minutes)
        self.scheduler.add_job(sync_all, IntervalTrigger(minutes=self.minutes), args=[self.app],
                               id="revenant-source-sync", replace_existing=True, next_run_time=first)
        self.scheduler.start()
        return self

    def stop(self) -> None:
        """Stop the scheduler thread."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)


def start_source_sync(app: App) -> SourceScheduler | None:
    """The schedule for `revenant worker` and `serve` (off with the `no_scheduler` override or 0 minutes)."""
    minutes = float(app.settings.source_sync_minutes)
    if app.overrides.get("no_scheduler") or minutes <= 0:
        return None
    return SourceScheduler(app, minutes).start()


def attach(web_app: web.Application, app: App) -> None:
    """`revenant serve`: run the schedule for the life of the web app."""
    holder: dict[str, SourceScheduler | None] = {}

    async def on_startup(_app: web.Application) -> None:
        holder["scheduler"] = start_source_sync(app)

    async def on_cleanup(_app: web.Application) -> None:
        scheduler = holder.get("scheduler")
        if scheduler is not None:
            scheduler.stop()

    web_app.on_startup.append(on_startup)
    web_app.on_cleanup.append(on_cleanup)
