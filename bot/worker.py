"""`revenant worker`: delivers the outbox for every org (bot/delivery.py) and works acknowledged chat requests,
forever or once."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable

from bot.acked_loop import start_in_thread as start_acked
from bot.bootstrap import App
from bot.delivery import STOP_GRACE, Deliverer, Subscribers
from bot.reminders import start_reminders
from bot.source_sync import start_source_sync, sync_all
from incident_core.delivery_policy import RetryPolicy
from storage.outbox import LEASE

log = logging.getLogger("revenant.worker")


def subscribers(app: App) -> Subscribers:
    """Who consumes each outbox topic (built once per process; ordering between them is bot/delivery.AFTER)."""
    from bot.guidance_wiring import add_guidance_subscribers
    from bot.insights_wiring import add_insights_subscribers
    from bot.postmortem_wiring import add_subscribers as add_postmortem_subscribers
    from bot.slack_wiring import SlackRoomArchiver, SlackRoomKeeper, slack_enabled
    from bot.teams_rooms import add_teams_subscribers
    from incident_core.rooms import ARCHIVE_TOPIC

    subs: Subscribers = {}
    if slack_enabled(app):
        subs.setdefault("incident.changed", []).append(SlackRoomKeeper(app))
        subs.setdefault(ARCHIVE_TOPIC, []).append(SlackRoomArchiver(app))
    add_teams_subscribers(app, subs)
    add_guidance_subscribers(app, subs)  # runs after the room keepers (bot/delivery.AFTER)
    add_postmortem_subscribers(app, subs)
    add_insights_subscribers(app, subs)  # the recurrence watcher: rooms wait for it (bot/delivery.AFTER)
    for topic, fn in app.overrides.get("subscribers", {}).items():
        subs.setdefault(topic, []).append(fn)
    return subs


def deliverer(app: App, subs: Subscribers | None = None, *,
              before_each: Callable[[], None] | None = None) -> Deliverer:
    """The process's deliverer: its threads, retry policy and lease come from the app (overrides for tests)."""
    return Deliverer(app.outbox, subs if subs is not None else subscribers(app),
                     threads=int(app.overrides.get("outbox_threads", app.settings.outbox_threads)),
                     policy=app.overrides.get("delivery_policy") or RetryPolicy(),
                     lease=app.overrides.get("outbox_lease") or LEASE, before_each=before_each,
                     monitor=app.delivery_monitor)


def deliver_once(app: App, subs: Subscribers | None = None, *,
                 before_each: Callable[[], None] | None = None) -> int:
    """One fair pass over every org's due outbox messages; returns how many messages were completed.

    `before_each` runs before each message (`serve` passes a wait that lets acknowledgements go first).
    """
    d = deliverer(app, subs, before_each=before_each)
    try:
        return d.run_pass()
    finally:
        d.stop()
        d.join(STOP_GRACE)
        app.delivery_monitor.refresh()


def run_worker(app: App, *, once: bool = False, interval: float = 1.0) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    log.info("revenant worker started (database: %s)", app.engine.dialect.name)
    subs = subscribers(app)
    start_acked(app, once=once)  # acknowledged Slack and Teams requests no process finished
    start_reminders(app, once=once)
    if once:
        sync_all(app)
    else:
        start_source_sync(app)
    d = deliverer(app, subs)
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():  # stop between passes, never mid-wait
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    try:
        while not stop.is_set():
            delivered = d.run_pass()
            app.delivery_monitor.refresh()
            if delivered:
                log.info("delivered %d outbox message(s)", delivered)
            if once:
                return
            stop.wait(interval)
    finally:
        d.stop()
        d.join(STOP_GRACE)  # a delivery still running after that is abandoned; its lease lapses
    log.info("revenant worker stopped")
