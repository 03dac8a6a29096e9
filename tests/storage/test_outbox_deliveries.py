"""Deliveries as subscriptions: per-subscriber state, dead letters, fairness across orgs, leases, coalescing
(SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta

import sqlalchemy as sa
from click.testing import CliRunner

from bot.bootstrap import App
from bot.cli import cli
from bot.delivery import Deliverer
from incident_core.delivery_policy import RetryPolicy
from incident_core.ports import OutboxMessage
from storage.delivery_tables import DELIVERIES
from storage.outbox import PendingMessage
from storage.outbox_admin import SqlOutboxAdmin
from storage.reminder_ledger import SqlReminderLedger
from tests.helpers import new_org

TOPIC = "test.delivery"


def put(app: App, org_id: str, key: str, topic: str = TOPIC, **payload: object) -> None:
    assert SqlReminderLedger(app.engine).fire(org_id, OutboxMessage(topic=topic, key=key, payload=dict(payload)))


def named(name: str, fn):  # type: ignore[no-untyped-def]
    fn.subscriber_name = name
    return fn


class Recorder:
    """Subscribers that record (org, key) per name, thread-safely; `fail` names raise."""

    def __init__(self, *names: str, fail: set[str] | None = None,
                 after: dict[str, tuple[str, ...]] | None = None) -> None:
        self.calls: Counter[tuple[str, str, str]] = Counter()
        self.order: list[tuple[str, str]] = []
        self.fail = fail or set()
        self.lock = threading.Lock()
        self.subs = [named(n, self._sub(n)) for n in names]
        for fn in self.subs:  # the ordering a subscriber declares (as the application services do)
            fn.after = (after or {}).get(fn.subscriber_name, ())

    def _sub(self, name: str):  # type: ignore[no-untyped-def]
        def call(msg: PendingMessage) -> None:
            with self.lock:
                self.calls[(name, msg.org_id, msg.key)] += 1
                self.order.append((msg.org_id, msg.key))
            if name in self.fail:
                raise ConnectionRefusedError(f"{name} refused the connection")
        return call

    def count(self, name: str, org_id: str) -> int:
        return sum(n for (who, org, _k), n in self.calls.items() if who == name and org == org_id)


def passes(d: Deliverer, n: int = 1) -> None:
    for _ in range(n):
        d.run_pass()


def test_one_failing_subscriber_does_not_hold_back_another(app: App) -> None:
    w = new_org(app)
    put(app, w.org.id, "k1")
    rec = Recorder("slack", "teams", fail={"slack"})
    d = Deliverer(app.outbox, {TOPIC: rec.subs}, threads=2)
    passes(d)
    assert rec.count("teams", w.org.id) == 1 and rec.count("slack", w.org.id) == 1
    states = deliveries(app, w.org.id)
    assert states["teams"][0] == "delivered" and states["slack"][0] == "pending" and states["slack"][1] == 1
    assert "refused" in (states["slack"][2] or "")
    assert app.outbox.pending(w.org.id) == 1
    rec.fail.clear()
    SqlOutboxAdmin(app.engine).expedite(w.org.id)
    passes(d)
    assert rec.count("slack", w.org.id) == 2 and rec.count("teams", w.org.id) == 1  # teams not re-run
    assert app.outbox.pending(w.org.id) == 0


def test_dead_after_the_attempt_cap_then_cli_retry_and_drop(app: App) -> None:
    w = new_org(app)
    put(app, w.org.id, "k1")
    put(app, w.org.id, "k2")
    rec = Recorder("jira", fail={"jira"})
    d = Deliverer(app.outbox, {TOPIC: rec.subs}, policy=RetryPolicy(max_attempts=2))
    admin = SqlOutboxAdmin(app.engine)
    for _ in range(3):
        passes(d)
        admin.expedite(w.org.id)
    assert rec.count("jira", w.org.id) == 4  # two messages × the cap, then no more
    assert app.outbox.pending(w.org.id) == 0 and admin.summary(w.org.id)["dead_deliveries"] == 2
    runner = CliRunner()
    out = runner.invoke(cli, ["outbox", "status", "--org", w.org.name], obj=_ctx(app))
    assert out.exit_code == 0, out.output
    assert "2 dead" in out.output and "ConnectionRefusedError: jira refused" in out.output
    dead = admin.dead_letters(w.org.id)
    out = runner.invoke(cli, ["outbox", "drop", "--org", w.org.id, "--message", str(dead[0].message_id)],
                        obj=_ctx(app))
    assert "1 dead delivery(ies) dropped" in out.output
    rec.fail.clear()
    out = runner.invoke(cli, ["outbox", "retry", "--org", w.org.name], obj=_ctx(app))
    assert "1 dead delivery(ies) will be retried" in out.output
    passes(d)
    assert rec.count("jira", w.org.id) == 5 and app.outbox.pending(w.org.id) == 0
    assert admin.summary(w.org.id)["dead_deliveries"] == 0
    assert sorted(s for s, *_ in deliveries(app, w.org.id, all_messages=True).values()) == ["delivered", "dropped"]


def test_other_orgs_cannot_see_or_revive_an_orgs_dead_letters(app: App) -> None:
    a, b = new_org(app), new_org(app)
    put(app, a.org.id, "k1")
    d = Deliverer(app.outbox, {TOPIC: Recorder("x", fail={"x"}).subs}, policy=RetryPolicy(max_attempts=1))
    passes(d)
    admin = SqlOutboxAdmin(app.engine)
    assert len(admin.dead_letters(a.org.id)) == 1
    assert admin.dead_letters(b.org.id) == [] and admin.retry(b.org.id) == 0 and admin.drop(b.org.id) == 0
    assert len(admin.dead_letters(a.org.id)) == 1
    assert admin.drop(a.org.id) == 1  # leave no dead letter behind in the shared database (/healthz tests)


def test_orgs_are_served_round_robin_oldest_due_first_not_by_id(app: App) -> None:
    busy = new_org(app)
    for i in range(30):
        put(app, busy.org.id, f"busy-{i}")
    quiet = [new_org(app) for _ in range(4)]
    for w in quiet:
        put(app, w.org.id, "quiet")
    rec = Recorder("s")
    mine = {busy.org.id, *(w.org.id for w in quiet)}
    Deliverer(app.outbox, {TOPIC: rec.subs}, threads=1).run_pass()
    order = [org for org, _k in rec.order if org in mine]
    assert len(order) == 34
    first_quiet_done = max(order.index(w.org.id) for w in quiet)
    assert first_quiet_done <= 5, order  # each quiet org within the first round, not after the busy one's 30


def test_due_orgs_lists_the_longest_waiting_first(app: App) -> None:
    first, second = new_org(app), new_org(app)
    put(app, second.org.id, "k")
    time.sleep(0.01)
    put(app, first.org.id, "k")
    due = [o for o in app.outbox.due_orgs() if o in {first.org.id, second.org.id}]
    assert due == [second.org.id, first.org.id]


def test_two_deliverers_deliver_each_subscriber_exactly_once(app: App) -> None:
    orgs = [new_org(app) for _ in range(3)]
    for w in orgs:
        for i in range(8):
            put(app, w.org.id, f"m{i}")
    rec = Recorder("a", "b")
    slow = named("slow", lambda _m: time.sleep(0.01))
    ds = [Deliverer(app.outbox, {TOPIC: [*rec.subs, slow]}, threads=3) for _ in range(2)]
    mine = {w.org.id for w in orgs}
    deadline = time.monotonic() + 60

    def ours() -> dict[object, int]:
        return {k: n for k, n in rec.calls.items() if k[1] in mine}

    def passes(d: Deliverer) -> None:  # the shared database may hold other tests' due orgs: pass until ours are done
        while len(ours()) < 2 * 3 * 8 and time.monotonic() < deadline:
            d.run_pass()

    threads = [threading.Thread(target=passes, args=(d,)) for d in ds]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    seen = ours()
    assert len(seen) == 2 * 3 * 8 and set(seen.values()) == {1}


def test_a_long_delivery_keeps_its_lease_so_no_one_else_takes_it(app: App) -> None:
    w = new_org(app)
    put(app, w.org.id, "slow")
    calls: list[str] = []
    started = threading.Event()

    def slow(msg: PendingMessage) -> None:
        calls.append(msg.key)
        started.set()
        time.sleep(2.0)  # four leases long

    lease = timedelta(seconds=0.5)
    first = Deliverer(app.outbox, {TOPIC: [named("slow", slow)]}, lease=lease)
    second = Deliverer(app.outbox, {TOPIC: [named("slow", slow)]}, lease=lease)
    t = threading.Thread(target=first.run_pass)
    t.start()
    assert started.wait(10)
    deadline = time.monotonic() + 2.5
    while t.is_alive() and time.monotonic() < deadline:
        second.run_pass()
        time.sleep(0.1)
    t.join(10)
    first.stop()
    second.stop()
    assert calls == ["slow"]
    assert app.outbox.pending(w.org.id) == 0


def test_refreshes_of_one_incident_coalesce_into_one_delivery(app: App) -> None:
    w = new_org(app)
    for i in range(4):
        put(app, w.org.id, f"changed:INC:{i}", topic="incident.changed", incident_id="INC")
    put(app, w.org.id, "changed:OTHER:0", topic="incident.changed", incident_id="OTHER")
    rec = Recorder("keeper")
    Deliverer(app.outbox, {"incident.changed": rec.subs}, threads=2).run_pass()
    mine = [k for (_n, org, k) in rec.calls if org == w.org.id]
    assert sorted(mine) == ["changed:INC:0", "changed:OTHER:0"]
    assert app.outbox.pending(w.org.id) == 0


def test_a_running_deliverer_renders_an_incident_once_per_window_and_loses_no_change(app: App) -> None:
    w = new_org(app)
    rec = Recorder("keeper")
    d = Deliverer(app.outbox, {"incident.changed": rec.subs, TOPIC: rec.subs}, threads=1,
                  settle=timedelta(seconds=0.6))
    mine = lambda: [k for org, k in rec.order if org == w.org.id]  # noqa: E731
    put(app, w.org.id, "changed:INC:0", topic="incident.changed", incident_id="INC")
    d.run_pass()
    assert mine() == ["changed:INC:0"] and d.next_wait(1.0) == 1.0  # a quiet incident's first change goes at once
    put(app, w.org.id, "changed:INC:1", topic="incident.changed", incident_id="INC")
    put(app, w.org.id, "note:0")  # another topic is not held back by the incident's window
    put(app, w.org.id, "changed:OTHER:0", topic="incident.changed", incident_id="OTHER")
    d.run_pass()
    assert mine() == ["changed:INC:0", "note:0", "changed:OTHER:0"]  # INC:1 waits out INC's window
    assert 0 < d.next_wait(5.0) <= 0.62
    for i in range(2, 5):  # more changes of INC within the window
        put(app, w.org.id, f"changed:INC:{i}", topic="incident.changed", incident_id="INC")
    time.sleep(d.next_wait(5.0))
    d.run_pass()
    d.stop()
    assert mine()[3:] == ["changed:INC:1"]  # one render for changes 1–4: nothing lost, the last state wins
    assert app.outbox.pending(w.org.id) == 0
    once = Deliverer(app.outbox, {"incident.changed": rec.subs}, threads=1)  # a one-off pass never waits
    put(app, w.org.id, "changed:INC:5", topic="incident.changed", incident_id="INC")
    once.run_pass()
    assert mine()[-1] == "changed:INC:5"


def test_a_dependent_waits_for_its_room_while_unrelated_subscribers_go_on(app: App) -> None:
    w = new_org(app)
    put(app, w.org.id, "changed:INC:0", topic="incident.changed", incident_id="INC")
    rec = Recorder("RecurrenceWatcher", "SlackRoomKeeper", "GuidanceOfferer", "AutoDrafter",
                   fail={"SlackRoomKeeper"}, after={"SlackRoomKeeper": ("RecurrenceWatcher",),
                                                    "GuidanceOfferer": ("SlackRoomKeeper", "TeamsRoomKeeper")})
    d = Deliverer(app.outbox, {"incident.changed": rec.subs})
    d.run_pass()
    assert rec.count("RecurrenceWatcher", w.org.id) == 1 and rec.count("AutoDrafter", w.org.id) == 1
    assert rec.count("SlackRoomKeeper", w.org.id) == 1 and rec.count("GuidanceOfferer", w.org.id) == 0
    assert "GuidanceOfferer" not in deliveries(app, w.org.id)  # waiting spends no attempts
    rec.fail.clear()
    SqlOutboxAdmin(app.engine).expedite(w.org.id)
    d.run_pass()
    assert rec.count("SlackRoomKeeper", w.org.id) == 2 and rec.count("GuidanceOfferer", w.org.id) == 1
    assert rec.count("RecurrenceWatcher", w.org.id) == 1 and app.outbox.pending(w.org.id) == 0


def test_stop_returns_promptly_while_a_subscriber_hangs(app: App) -> None:
    w = new_org(app)
    put(app, w.org.id, "hang")
    release = threading.Event()
    d = Deliverer(app.outbox, {TOPIC: [named("hang", lambda _m: release.wait(30))]},
                  lease=timedelta(seconds=1))
    t = threading.Thread(target=d.run_pass)
    t.start()
    time.sleep(0.5)
    began = time.monotonic()
    d.stop()
    t.join(5)
    assert not t.is_alive() and time.monotonic() - began < 3
    assert app.outbox.pending(w.org.id) == 1  # not released: it comes back to a process after the lease
    release.set()
    time.sleep(0.5)  # the abandoned call returns and records its outcome before the app closes



def test_join_waits_for_running_subscriber_calls_before_the_process_exits(app: App) -> None:
    """A process must not finalize while a delivery thread is inside a native library (it can abort)."""
    w = new_org(app)
    put(app, w.org.id, "slow")
    entered, release = threading.Event(), threading.Event()

    def slow(_m: PendingMessage) -> None:
        entered.set()
        release.wait(30)

    d = Deliverer(app.outbox, {TOPIC: [named("slow", slow)]}, lease=timedelta(seconds=30))
    t = threading.Thread(target=d.run_pass)
    t.start()
    assert entered.wait(10)
    d.stop()
    t.join(5)
    assert not t.is_alive()  # the pass returned; its worker thread is still in the call
    assert d.join(0.3) is False  # still busy: the caller learns it, and may wait longer
    release.set()
    assert d.join(10) is True
    assert d.join(0) is True

def deliveries(app: App, org_id: str, *, all_messages: bool = False) -> dict[str, tuple[str, int, str | None]]:
    """subscriber -> (state, attempts, last_error) for the org's deliveries (message id appended if all)."""
    with app.engine.begin() as conn:
        conn.execute(sa.text("SELECT 1"))
        from storage.engine import scope_to_org

        scope_to_org(conn, org_id)
        rows = conn.execute(sa.select(DELIVERIES).where(DELIVERIES.c.org_id == org_id)).all()
    return {(f"{r.subscriber}:{r.message_id}" if all_messages else r.subscriber): (r.state, r.attempts, r.last_error)
            for r in rows}


def _ctx(app: App) -> object:
    from bot.cli import CliContext

    ctx = CliContext()
    ctx._app = app  # the test's app (its database), not one built from the environment
    return ctx


def test_row_level_security_hides_other_orgs_deliveries_and_reminder_index(pg_app: App) -> None:
    a, b = new_org(pg_app), new_org(pg_app)
    put(pg_app, a.org.id, "k1")
    Deliverer(pg_app.outbox, {TOPIC: Recorder("x").subs}).run_pass()
    from tests.helpers import declare

    declare(a)
    with pg_app.engine.begin() as conn:
        conn.execute(sa.text("SELECT set_config('app.org_id', :org, true)"), {"org": b.org.id})
        for table in ("outbox_deliveries", "reminder_due"):
            assert conn.execute(sa.text(f"SELECT count(*) FROM {table} WHERE org_id = :a"),
                                {"a": a.org.id}).scalar() == 0, table
            assert conn.execute(sa.text(f"UPDATE {table} SET org_id = org_id WHERE org_id = :a"),
                                {"a": a.org.id}).rowcount == 0, table
        conn.execute(sa.text("SELECT set_config('app.org_id', :org, true)"), {"org": a.org.id})
        assert conn.execute(sa.text("SELECT count(*) FROM outbox_deliveries WHERE org_id = :a"),
                            {"a": a.org.id}).scalar() == 1
        assert conn.execute(sa.text("SELECT count(*) FROM reminder_due WHERE org_id = :a"),
                            {"a": a.org.id}).scalar() == 1


def test_the_cross_org_functions_are_the_directory_roles_with_a_pinned_search_path(pg_app: App) -> None:
    from storage.rls import DIRECTORY_ROLE

    names = ("revenant_due_orgs_oldest", "revenant_delivery_stats", "revenant_due_reminders", "revenant_digest_orgs")
    with pg_app.engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT p.proname, r.rolname, p.prosecdef, p.proconfig FROM pg_proc p JOIN pg_roles r "
            "ON r.oid = p.proowner WHERE p.proname = ANY(:names)"), {"names": list(names)}).all()
    assert sorted(r[0] for r in rows) == sorted(names)
    for name, owner, definer, config in rows:
        assert owner == DIRECTORY_ROLE and definer, name
        assert any(c.startswith("search_path=") for c in config or []), name
