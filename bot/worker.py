"""`revenant worker`: delivers the outbox for every org and works acknowledged chat requests, forever or once."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from bot.acked_loop import start_in_thread as start_acked
from bot.bootstrap import App
from bot.reminders import start_reminders
from bot.source_sync import start_source_sync, sync_all
from storage.outbox import PendingMessage

log = logging.getLogger("revenant.worker")


def subscribers(app: App) -> dict[str, list[Callable[[PendingMessage], None]]]:
    """Who consumes each outbox topic (built once per process)."""
    from bot.guidance_wiring import add_guidance_subscribers
    from bot.insights_wiring import add_insights_subscribers
    from bot.postmortem_wiring import add_subscribers as add_postmortem_subscribers
    from bot.slack_wiring import SlackRoomArchiver, SlackRoomKeeper, slack_enabled
    from bot.teams_rooms import add_teams_subscribers
    from incident_core.rooms import ARCHIVE_TOPIC

    subs: dict[str, list[Callable[[PendingMessage], None]]] = {}
    if slack_enabled(app):
        subs.setdefault("incident.changed", []).append(SlackRoomKeeper(app))
        subs.setdefault(ARCHIVE_TOPIC, []).append(SlackRoomArchiver(app))
    add_teams_subscribers(app, subs)
    add_guidance_subscribers(app, subs)  # after the room keepers: offers guidance once rooms exist
    add_postmortem_subscribers(app, subs)
    add_insights_subscribers(app, subs)  # puts the recurrence watcher first: rooms open with the line
    for topic, fn in app.overrides.get("subscribers", {}).items():
        subs.setdefault(topic, []).append(fn)
    return subs


def dispatch(subs: dict[str, list[Callable[[PendingMessage], None]]]) -> Callable[[PendingMessage], None]:
    """Route messages to subscribers for one pass; repeated `incident.changed` for one incident coalesce.

    Coalescing keeps bursts (a status change, three signals and a note in one second) to one
    chat.update per incident per pass, well inside Slack's Tier 3 limit.
    """
    seen: set[tuple[str, str]] = set()

    def handle(msg: PendingMessage) -> None:
        if msg.topic == "incident.changed":
            key = (msg.org_id, str(msg.payload.get("incident_id")))
            if key in seen:
                return
        for fn in subs.get(msg.topic, ()):
            fn(msg)
        if msg.topic == "incident.changed":
            seen.add(key)

    return handle


def deliver_once(app: App, subs: dict[str, list[Callable[[PendingMessage], None]]] | None = None, *,
                 before_each: Callable[[], None] | None = None) -> int:
    """One pass over every org's due outbox messages; returns how many were delivered.

    `before_each` runs before each message (`serve` passes a wait that lets acknowledgements go first).
    """
    deliver = dispatch(subs if subs is not None else subscribers(app))
    if before_each is None:
        handler = deliver
    else:
        def handler(msg: PendingMessage) -> None:
            before_each()
            deliver(msg)
    return sum(app.outbox.process(org_id, handler) for org_id in app.outbox.due_orgs())


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
    while True:
        delivered = deliver_once(app, subs)
        if delivered:
            log.info("delivered %d outbox message(s)", delivered)
        if once:
            return
        time.sleep(interval)
