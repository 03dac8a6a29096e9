"""`revenant worker`: delivers the outbox for every org, forever or once."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from bot.bootstrap import App
from storage.outbox import PendingMessage

log = logging.getLogger("revenant.worker")


def dispatch(app: App) -> Callable[[PendingMessage], None]:
    """Route an outbox message to its subscriber; topics without one are acknowledged."""
    subscribers: dict[str, Callable[[PendingMessage], None]] = dict(app.overrides.get("subscribers", {}))

    def handle(msg: PendingMessage) -> None:
        fn = subscribers.get(msg.topic)
        if fn is not None:
            fn(msg)

    return handle


def deliver_once(app: App) -> int:
    """One pass over every org's due outbox messages; returns how many were delivered."""
    handler = dispatch(app)
    return sum(app.outbox.process(o.id, handler) for o in app.directory.orgs())


def run_worker(app: App, *, once: bool = False, interval: float = 1.0) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    log.info("revenant worker started (database: %s)", app.engine.dialect.name)
    while True:
        delivered = deliver_once(app)
        if delivered:
            log.info("delivered %d outbox message(s)", delivered)
        if once:
            return
        time.sleep(interval)
