"""Reminders on APScheduler 3.x: one interval job per process looks at the incidents the reminder index
(`reminder_due`, kept by a trigger on the projection) says are due, and queues weekly digests when
their slot comes, keyed the same way.

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
from incident_core.all_clear import auto_resolve_at
from incident_core.auto_resolve import AfterFor, auto_resolve, delays_by_project
from incident_core.events import Event
from incident_core.org_settings import OrgSettings
from incident_core.ports import OutboxMessage
from incident_core.postmortem_usecases import NOTICE
from incident_core.reminders import ReminderPolicy, due_reminders, next_look
from incident_core.richtext_json import to_json
from incident_core.rooms import rooms_to_archive
from incident_core.state import IncidentState
from storage.reminder_ledger import Decide, SqlReminderLedger

log = logging.getLogger("revenant.reminders")
LOCK_NAME = "revenant-reminders"
DEFAULT_INTERVAL = 30.0
LOOK_BATCH = 200  # orgs whose due incidents one transaction looks at


def tick(app: App, *, use_leader: bool = True) -> int:
    """Look at the incidents the reminder index says are due (not every org); returns how many messages fired.

    One read of the index across orgs; then the due incidents of up to LOOK_BATCH orgs per transaction
    (storage/reminder_look.py): their latest events, any reminder or room archive due now, each one's next
    look. An all-clear incident whose project sets `auto_resolve_after_minutes` is looked at when that time
    comes (its next look) and resolved then. Weekly digests are evaluated for the orgs that configured them.
    """
    ledger = SqlReminderLedger(app.engine)
    fired = 0
    with ledger.leader(LOCK_NAME) if use_leader else nullcontext(True) as leading:
        if not leading:
            return 0
        now = app.deps.clock.now()
        due: dict[str, dict[str, int]] = {}
        for org_id, incident_id, seq in ledger.due(now):
            due.setdefault(org_id, {})[incident_id] = seq
        project_digests, org_digests = ledger.digest_orgs(), ledger.org_digest_orgs()
        settings = {org_id: OrgSettings.from_dict(raw)  # not every org's: those with due incidents or a digest
                    for org_id, raw in ledger.orgs(set(due) | project_digests | org_digests)}
        resolving: dict[str, list[IncidentState]] = {}
        delays = {org_id: _auto_resolve_delays(app, org_id, settings[org_id]) for org_id in due
                  if org_id in settings and settings[org_id].auto_resolves}  # only orgs with something due
        batch = [(org_id, seqs, _decide(settings.get(org_id) or OrgSettings(), now, delays.get(org_id),
                                        resolving.setdefault(org_id, []))) for org_id, seqs in due.items()]
        for start in range(0, len(batch), LOOK_BATCH):
            for org_id, message in ledger.look(batch[start:start + LOOK_BATCH]):
                fired += 1
                log.info("%s queued (org %s)", message.key, org_id)
        for org_id, states in resolving.items():
            if states:
                fired += _auto_resolve(app, org_id, states, now, delays[org_id])
        digest_orgs = project_digests | {o for o in org_digests if o in settings and settings[o].insights.get("digest")}
        for org_id in sorted(digest_orgs):
            fired += fire_digests(app, ledger, org_id, settings.get(org_id) or OrgSettings(), now)
    return fired


def _decide(settings: OrgSettings, now: datetime, auto_resolve_after: AfterFor | None = None,
            resolving: list[IncidentState] | None = None) -> Decide:
    """For one org: what is due now for an incident (reminders, room archives), and its next look. With the
    org's auto-resolve delays, an all-clear incident is also looked at when it may resolve itself, and added to
    `resolving` once that time has come (it stays due until the resolution changes it)."""
    policy = ReminderPolicy.from_settings(settings.reminders)
    after = settings.archive_after

    def decide(state: IncidentState, recent: list[Event]) -> tuple[list[OutboxMessage], datetime | None]:
        messages = [OutboxMessage(topic=NOTICE, key=due.key, payload={
            "incident_id": state.incident_id, "content": to_json(due.content), "snooze": due.snooze,
            "reminder": due.kind}) for due in due_reminders(state, recent, now, policy)]
        messages += rooms_to_archive(state, now, after)
        look = next_look(state, recent, now, policy, after)
        resolves = auto_resolve_at(state, auto_resolve_after(state)) if auto_resolve_after else None
        if resolves is not None:
            if resolves <= now and resolving is not None:
                resolving.append(state)
            look = resolves if look is None else min(look, resolves)
        return messages, look

    return decide


def _auto_resolve_delays(app: App, org_id: str, settings: OrgSettings) -> AfterFor:
    """The org's auto_resolve_after per incident (by its project's name)."""
    return delays_by_project(settings, {p.id: p.name for p in app.directory.projects(org_id)})


def _auto_resolve(app: App, org_id: str, states: list[IncidentState], now: datetime, after_for: AfterFor) -> int:
    """Resolve the looked-at incidents all clear for their project's `auto_resolve_after_minutes`."""
    done = auto_resolve(deps=app.deps, states=states, now=now, after_for=after_for)
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
