"""Reminders on APScheduler 3.x: one interval job per process evaluates every org's incidents (and queues
weekly digests when their slot comes, keyed the same way).

APScheduler only keeps time here (a MemoryJobStore: its job stores cannot be shared between processes).
The reminders themselves are derived from the database on every tick and fire through the outbox with
a per-slot key, so they fire once however many processes tick, and survive restarts with no state of
their own. See docs/postmortems.md.
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.bootstrap import App
from bot.insights_wiring import fire_digests
from incident_core.auto_resolve import auto_resolve, delays_by_project
from incident_core.ports import OutboxMessage
from incident_core.postmortem_usecases import NOTICE
from incident_core.reminders import WATCHED_TYPES, ReminderPolicy, due_reminders
from incident_core.richtext_json import to_json
from incident_core.rooms import archive_after, rooms_to_archive
from storage.reminder_ledger import SqlReminderLedger

log = logging.getLogger("revenant.reminders")
LOCK_NAME = "revenant-reminders"
DEFAULT_INTERVAL = 30.0
ARCHIVE_LOOKBACK = timedelta(days=7)  # closed incidents older than delay + this are assumed handled


def tick(app: App, *, use_leader: bool = True) -> int:
    """Evaluate every org's open and resolved incidents once; returns how many reminders fired now."""
    ledger = SqlReminderLedger(app.engine)
    fired = 0
    with ledger.leader(LOCK_NAME) if use_leader else nullcontext(True) as leading:
        if not leading:
            return 0
        now = app.deps.clock.now()
        for org_id, settings in ledger.orgs():
            policy = ReminderPolicy.from_settings(settings.get("reminders"))
            for state in ledger.candidates(org_id):
                recent = ledger.recent(org_id, state.incident_id, WATCHED_TYPES)
                for due in due_reminders(state, recent, now, policy):
                    message = OutboxMessage(topic=NOTICE, key=due.key, payload={
                        "incident_id": state.incident_id, "content": to_json(due.content), "snooze": due.snooze,
                        "reminder": due.kind})
                    if ledger.fire(org_id, message):
                        fired += 1
                        log.info("reminder %s for %s", due.kind, state.human_id)
            fired += _archive_rooms(ledger, org_id, settings, now)
            fired += _auto_resolve(app, ledger, org_id, settings, now)
            fired += fire_digests(app, ledger, org_id, settings, now)
    return fired


def _archive_rooms(ledger: SqlReminderLedger, org_id: str, settings: dict, now: datetime) -> int:
    """Queue archiving of closed incidents' rooms once the org's delay has passed (each room once)."""
    after = archive_after(settings)
    fired = 0
    for state in ledger.closed_since(org_id, now - after - ARCHIVE_LOOKBACK):
        for message in rooms_to_archive(state, now, after):
            if ledger.fire(org_id, message):
                fired += 1
                log.info("archiving %s's %s room", state.human_id, message.payload["platform"])
    return fired


def _auto_resolve(app: App, ledger: SqlReminderLedger, org_id: str, settings: dict, now: datetime) -> int:
    """Resolve incidents all clear for their project's `auto_resolve_after_minutes` (off unless set)."""
    if not any("auto_resolve_after_minutes" in p for p in (settings.get("routing") or {}).get("projects") or ()
               if isinstance(p, dict)):
        return 0
    names = {p.id: p.name for p in app.directory.projects(org_id)}
    done = auto_resolve(deps=app.deps, states=ledger.candidates(org_id), now=now,
                        after_for=delays_by_project(settings, names))
    for human_id in done:
        log.info("auto-resolved %s (org %s): all clear for its project's auto_resolve_after", human_id, org_id)
    return len(done)


def _safe_tick(app: App) -> None:
    try:
        tick(app)
    except Exception:  # noqa: BLE001 — a failed tick is retried by the next one
        log.exception("reminder tick failed")


class ReminderScheduler:
    """An APScheduler BackgroundScheduler running `tick` every `interval` seconds in this process."""

    def __init__(self, app: App, *, interval: float | None = None) -> None:
        self.app = app
        self.interval = float(interval or app.overrides.get("reminder_interval", DEFAULT_INTERVAL))
        self.scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1,
                                                                           "misfire_grace_time": None})

    def start(self) -> ReminderScheduler:
        """Schedule the tick (first run one interval from now) and start the scheduler thread."""
        first = datetime.now(UTC) + timedelta(seconds=self.interval)
        self.scheduler.add_job(_safe_tick, IntervalTrigger(seconds=self.interval), args=[self.app],
                               id="revenant-reminders", replace_existing=True, next_run_time=first)
        self.scheduler.start()
        log.info("reminders every %.0f s", self.interval)
        return self

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)


def start_reminders(app: App, *, once: bool = False) -> ReminderScheduler | None:
    """`revenant worker`: one tick for `--once`, else the scheduler (off with the `no_scheduler` override)."""
    if once:
        tick(app)
        return None
    if app.overrides.get("no_scheduler"):
        return None
    return ReminderScheduler(app).start()


def attach(web_app: web.Application, app: App) -> None:
    """`revenant serve`: run the scheduler for the life of the web app (single-process deployments)."""
    holder: dict[str, Any] = {}

    async def on_startup(_app: web.Application) -> None:
        if not app.overrides.get("no_scheduler"):
            holder["scheduler"] = ReminderScheduler(app).start()

    async def on_cleanup(_app: web.Application) -> None:
        if holder.get("scheduler"):
            holder["scheduler"].stop()

    web_app.on_startup.append(on_startup)
    web_app.on_cleanup.append(on_cleanup)
