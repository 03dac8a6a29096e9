"""Two deliverers with a settle window claim one org's refreshes at the same time on PostgreSQL (two processes'
worth of connections): each message rendered at most once, every incident rendered after its last change, and the
changes that came during a window folded (claims that defer in the same statement, releases sent with the next
claim: storage/outbox_pg.py)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from bot.bootstrap import App
from bot.delivery import Deliverer
from storage.outbox import COALESCED_TOPIC, PendingMessage
from tests.helpers import new_org
from tests.storage.test_outbox_deliveries import named, put

INCIDENTS, CHANGES = 4, 10


def test_two_settling_deliverers_render_each_change_and_no_message_twice(pg_app: App) -> None:
    org = new_org(pg_app).org.id
    lock = threading.Lock()
    renders: list[tuple[str, int, float]] = []  # (incident, message id, when the render started)
    changed: dict[str, float] = {}  # incident -> when its last change was written

    def keeper(msg: PendingMessage) -> None:
        if msg.org_id == org:
            with lock:
                renders.append((str(msg.payload["incident_id"]), msg.id, time.monotonic()))

    subs = {COALESCED_TOPIC: [named("keeper", keeper)]}
    ds = [Deliverer(pg_app.outbox, subs, threads=2, settle=timedelta(seconds=0.3)) for _ in range(2)]
    writing = threading.Event()
    writing.set()

    def write() -> None:
        for change in range(CHANGES):
            for i in range(INCIDENTS):
                put(pg_app, org, f"changed:{i}:{change}", topic=COALESCED_TOPIC, incident_id=f"INC-{i}")
                with lock:
                    changed[f"INC-{i}"] = time.monotonic()
            time.sleep(0.05)
        writing.clear()

    deadline = time.monotonic() + 60

    def deliver(d: Deliverer) -> None:
        while (writing.is_set() or pg_app.outbox.pending(org)) and time.monotonic() < deadline:
            d.run_pass()
            time.sleep(min(d.next_wait(0.1), 0.1))

    threads = [threading.Thread(target=write), *(threading.Thread(target=deliver, args=(d,)) for d in ds)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    for d in ds:
        d.stop()
    assert pg_app.outbox.pending(org) == 0
    ids = [message_id for _i, message_id, _at in renders]
    assert len(ids) == len(set(ids))  # no message rendered twice, by either deliverer
    assert len(ids) < INCIDENTS * CHANGES  # changes within a window folded into one render
    for incident, last_change in changed.items():
        assert max(at for i, _id, at in renders if i == incident) >= last_change, incident  # no change lost
