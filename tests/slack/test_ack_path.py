"""The acknowledgement path: batched replay checks, lazy work queued behind acks, cached bindings."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.acked_loop import AckedLoop
from bot.binding_cache import BindingCache
from bot.bootstrap import App
from handlers.priority import AckPriority
from handlers.replay_batch import BatchedFirstSight
from storage.acked_work import AckedItem, AckedWork, Arrival
from storage.replay_guard import SEEN, ReplayGuard
from tests.conftest import make_app
from tests.slack.conftest import SlackWorld, eventually


@pytest.fixture
def guard_app(db_url: str, tmp_path: Path) -> Iterator[App]:
    built = make_app(db_url, tmp_path)
    yield built
    built.close()


def test_a_burst_is_acked_once_each_and_every_replay_refused(slack_world: SlackWorld) -> None:
    w = slack_world
    with ThreadPoolExecutor(max_workers=20) as pool:
        first = list(pool.map(lambda i: w.sender.command(w.alice, w.general, "help")[0].status, range(20)))
        assert first == [200] * 20
        captured = list(w.sender.sent)
        again = list(pool.map(lambda sent: w.sender.replay(*sent).status, captured))
    assert again == [401] * len(captured)
    signatures = [headers["X-Slack-Signature"][:100] for headers, _ in captured]
    with w.app.engine.begin() as conn:
        recorded = conn.execute(sa.select(sa.func.count()).select_from(SEEN)
                                .where(SEEN.c.signature.in_(signatures))).scalar()
    assert recorded == len(set(signatures)) == 20


def test_concurrent_checks_share_one_transaction_and_duplicates_are_replays(guard_app: App) -> None:
    guard = ReplayGuard(guard_app.engine)
    calls: list[int] = []

    def first_sights(signatures):  # type: ignore[no-untyped-def]
        calls.append(len(signatures))
        return guard.first_sights(signatures)

    check = BatchedFirstSight(first_sights)
    names = [f"sig-{i}" for i in range(20)] + ["sig-3", "sig-7"]

    async def burst() -> list[bool]:
        return list(await asyncio.gather(*(check(n) for n in names)))

    answers = asyncio.run(burst())
    assert answers[:20] == [True] * 20 and answers[20:] == [False, False]
    assert len(calls) <= 2 and sum(calls) == len(names)
    assert asyncio.run(BatchedFirstSight(guard.first_sights)("sig-5")) is False  # seen in an earlier batch


def test_a_failing_check_fails_every_waiter() -> None:
    def broken(_signatures):  # type: ignore[no-untyped-def]
        raise RuntimeError("database unreachable")

    check = BatchedFirstSight(broken)

    async def burst() -> list[object]:
        return list(await asyncio.gather(*(check(f"s{i}") for i in range(5)), return_exceptions=True))

    assert all(isinstance(r, RuntimeError) for r in asyncio.run(burst()))


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_when_requests_cannot_be_recorded_slack_gets_503_and_nothing_runs(slack_world: SlackWorld) -> None:
    w = slack_world
    with w.app.engine.begin() as conn:  # the embedded database's owner: make recording fail
        conn.execute(sa.text("ALTER TABLE seen_requests RENAME TO seen_requests_gone"))
    answer, _ = w.sender.command(w.alice, w.general, "declare Checkout down sev2")
    assert answer.status == 503 and answer.headers.get("Retry-After") == "1"
    assert "retry" in answer.json()["error"]
    time.sleep(0.5)
    assert w.incident("INC-1") is None


def _queue(guard_app: App, n: int, platform: str) -> AckedWork:
    store = AckedWork(guard_app.engine, lease=5)
    ids = store.record([Arrival(key=f"job-{uuid.uuid4().hex}-{i}", platform=platform, body=str(i)) for i in range(n)])
    assert all(ids)
    return store


def test_acked_work_runs_in_order_with_bounded_concurrency(guard_app: App) -> None:
    platform = f"t-{uuid.uuid4().hex[:8]}"  # the database is shared by the session's tests
    store = _queue(guard_app, 8, platform)
    started: list[int] = []
    running = peak = 0

    async def work(item: AckedItem) -> None:
        nonlocal running, peak
        started.append(int(item.body))
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1

    worked = asyncio.run(AckedLoop(store, {platform: work}, concurrency=2).run_until_idle())
    assert worked == 8 and started == list(range(8)) and peak == 2
    assert store.claim(10, [platform]) == []


def test_acked_work_waits_for_acks_in_flight(guard_app: App) -> None:
    priority = AckPriority(max_wait=5)
    platform = f"t-{uuid.uuid4().hex[:8]}"
    store = _queue(guard_app, 1, platform)

    async def scenario() -> list[str]:
        order: list[str] = []

        async def work(_item: AckedItem) -> None:
            order.append("lazy")

        loop = AckedLoop(store, {platform: work}, priority=priority, interval=0.05)
        with priority.acking():
            await loop.start()
            await asyncio.sleep(0.2)
            order.append("acked")
        for _ in range(100):
            if "lazy" in order:
                break
            await asyncio.sleep(0.02)
        await loop.stop()
        return order

    assert asyncio.run(scenario()) == ["acked", "lazy"]


def test_background_threads_wait_for_quiet_but_never_forever() -> None:
    priority = AckPriority(max_wait=0.2)
    t = time.monotonic()
    priority.wait_quiet_blocking()
    assert time.monotonic() - t < 0.05  # idle: no wait
    released = threading.Event()

    def ack() -> None:
        with priority.acking():
            released.wait(5)

    holder = threading.Thread(target=ack)
    holder.start()
    while priority.in_flight == 0:
        time.sleep(0.001)
    t = time.monotonic()
    priority.wait_quiet_blocking()  # an ack stays in flight: gives up after max_wait
    waited = time.monotonic() - t
    released.set()
    holder.join()
    assert 0.15 <= waited < 2
    assert priority.in_flight == 0


def test_binding_cache_keeps_found_bindings_for_a_while_only() -> None:
    now = [0.0]
    table = {"T1": "org-a"}
    lookups: list[str] = []

    def lookup(team: str) -> str | None:
        lookups.append(team)
        return table.get(team)

    cache = BindingCache(lookup, ttl=10, clock=lambda: now[0])
    assert cache.known("T1") is None and cache.lookup("T1") == "org-a"
    assert cache.known("T1") == "org-a"
    table["T1"] = "org-b"  # moved to another org
    now[0] = 10.5
    assert cache.known("T1") is None and cache.lookup("T1") == "org-b"
    assert cache.lookup("T9") is None and cache.known("T9") is None  # unknown teams are not remembered
    table["T9"] = "org-c"
    assert cache.lookup("T9") == "org-c"
    assert lookups == ["T1", "T1", "T9", "T9"]


def test_a_record_worked_in_its_request_keeps_its_lease_while_it_runs(guard_app: App) -> None:
    platform = f"t-{uuid.uuid4().hex[:8]}"
    mine = AckedWork(guard_app.engine, lease=0.6)
    other = AckedWork(guard_app.engine, lease=0.6)
    [held] = mine.record([Arrival(key=f"job-{uuid.uuid4().hex}", platform=platform, body="slow")], claim=True)
    assert held is not None

    async def scenario() -> list[int]:
        loop = AckedLoop(mine, {platform: lambda _item: asyncio.sleep(0)})
        await loop.start()
        with loop.holding(held):
            await asyncio.sleep(1.5)  # more than twice the lease: only renewals keep it
            taken = await asyncio.to_thread(other.claim, 10, [platform])
        await loop.stop()
        return [i.id for i in taken]

    assert asyncio.run(scenario()) == []
    time.sleep(0.8)  # no longer held: its lease runs out and another process may take it over
    assert [i.id for i in other.claim(10, [platform])] == [held]


def test_a_live_request_is_not_copied_for_its_lazy_work_and_the_work_still_runs(
        slack_world: SlackWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    import slack_bolt.listener.asyncio_runner as bolt_runner

    from handlers.slack.durable_runner import WORK_HEADER
    from tests.slack.test_slack_flow import responses

    copies: list[str] = []
    copy = bolt_runner.create_copy

    def counting(original):  # type: ignore[no-untyped-def]
        copies.append("work" if original.headers.get(WORK_HEADER) else "live")
        return copy(original)

    monkeypatch.setattr(bolt_runner, "create_copy", counting)
    w = slack_world
    delivery, url = w.sender.command(w.alice, w.general, "help")
    assert delivery.status == 200
    assert eventually(lambda: responses(w, url), what="help answered by the lazy work")
    assert "live" not in copies  # the acknowledgement made no copy of the request
    assert "work" in copies  # the drain loop's dispatch of the recorded request is copied and collected as before
