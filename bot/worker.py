"""`revenant worker`: delivers the outbox for every org (bot/delivery.py) and works acknowledged chat requests,
forever or once."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import timedelta

from bot.acked_workers import STOP_GRACE as ACKED_GRACE
from bot.acked_workers import start_in_thread as start_acked
from bot.bootstrap import App
from bot.delivery import SETTLE, STOP_GRACE, Deliverer, Subscribers
from bot.outbox_retention import start_retention
from bot.reminders import start_reminders
from bot.source_sync import start_source_sync, sync_all
from incident_core.delivery_policy import RetryPolicy
from incident_core.delivery_snapshot import HistorySnapshots
from incident_core.services.knowledge_loop import KnowledgeIndex
from incident_core.services.subscriptions import Collaborators, subscriptions
from storage.outbox import LEASE

log = logging.getLogger("revenant.worker")


def collaborators(app: App) -> Collaborators:
    """What the application services run on, built from the app (the slow ones on first use)."""
    from bot.guidance_wiring import feedback_stats
    from bot.insights_wiring import history, tracker_for
    from bot.postmortem_wiring import make_narrator, publisher_for

    def knowledge() -> KnowledgeIndex:
        from knowledge.learning import KnowledgeLoopIndex

        return KnowledgeLoopIndex(app.knowledge)

    return Collaborators(deps=app.deps, queries=app.delivery_states, deliveries=app.deliveries, guidance=lambda: app.guidance,
                         knowledge=knowledge, feedback=feedback_stats(app), health=app.knowledge_health,
                         publisher_for=lambda target: publisher_for(app, target), narrator=make_narrator(app),
                         history=HistorySnapshots(history(app)), tracker_for=tracker_for(app))


def subscribers(app: App) -> Subscribers:
    """Who consumes each outbox topic (built once per process): the application services over the registered
    chat platforms, plus test overrides. Ordering between them is declared by the services (`after`)."""
    from bot.platforms import chat_platforms

    subs: Subscribers = {topic: list(fns) for topic, fns in
                         subscriptions(collaborators(app), chat_platforms(app)).items()}
    for topic, fn in app.overrides.get("subscribers", {}).items():
        subs.setdefault(topic, []).append(fn)
    return subs


def deliverer(app: App, subs: Subscribers | None = None, *,
              before_each: Callable[[], None] | None = None, running: bool = False) -> Deliverer:
    """The process's deliverer: its threads, retry policy and lease come from the app (overrides for tests).

    A `running` process's deliverer lets refreshes settle (bot/delivery.py SETTLE); a one-off pass does not."""
    return Deliverer(app.outbox, subs if subs is not None else subscribers(app),
                     threads=int(app.overrides.get("outbox_threads", app.settings.outbox_threads)),
                     policy=app.overrides.get("delivery_policy") or RetryPolicy(),
                     lease=app.overrides.get("outbox_lease") or LEASE, before_each=before_each,
                     monitor=app.delivery_monitor, snapshots=app.delivery_states,
                     settle=app.overrides.get("outbox_settle", SETTLE) if running else timedelta(0))


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
    """Deliver, work acknowledged requests and run the schedules until SIGTERM/SIGINT (or one pass with `once`).

    A stop is bounded: the pass under way stops claiming, deliveries still running get STOP_GRACE and
    acknowledged requests being worked ACKED_GRACE; what is left is given back or its lease lapses."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    log.info("revenant worker started (database: %s)", app.engine.dialect.name)
    subs = subscribers(app)
    acked = start_acked(app, once=once)  # acknowledged Slack and Teams requests no process finished
    reminders = start_reminders(app, once=once)
    if once:
        sync_all(app)
    sources = None if once else start_source_sync(app)
    retention = None if once else start_retention(app)  # delivered messages past REVENANT_OUTBOX_RETENTION_DAYS
    d = deliverer(app, subs, running=not once)
    stop = threading.Event()

    def stopping(signum: int, _frame: object) -> None:
        log.info("%s received: stopping", signal.Signals(signum).name)
        stop.set()
        d.stop()  # the pass under way claims nothing more

    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, stopping)
    try:
        while not stop.is_set():
            delivered = d.run_pass()
            app.delivery_monitor.refresh()
            if delivered:
                log.info("delivered %d outbox message(s)", delivered)
            if once:
                return
            stop.wait(d.next_wait(interval))
    finally:
        if reminders is not None:
            reminders.stop()
        if sources is not None:
            sources.stop()
        if retention is not None:
            retention.stop()
        d.stop()
        d.join(STOP_GRACE)  # a delivery still running after that is abandoned; its lease lapses
        if acked is not None:
            acked.stop(ACKED_GRACE)
    log.info("revenant worker stopped")
