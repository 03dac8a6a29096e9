"""The ingest bulkhead: a per-org share of threads, a bounded per-org queue, arrival order within an org."""

from __future__ import annotations

import asyncio
import threading

import pytest

from handlers.bulkhead import Bulkhead, Overloaded


class Gate:
    """Blocking jobs that wait until the test opens them, recording the order they started in."""

    def __init__(self) -> None:
        self.opened: dict[str, threading.Event] = {}
        self.started: list[str] = []
        self.lock = threading.Lock()

    def job(self, name: str) -> str:
        with self.lock:
            self.started.append(name)
            event = self.opened.setdefault(name, threading.Event())
        assert event.wait(10), f"{name} was never opened"
        return name

    def open(self, name: str) -> None:
        with self.lock:
            self.opened.setdefault(name, threading.Event()).set()


async def until(check: object, what: str) -> None:
    for _ in range(500):
        if check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


async def test_one_key_gets_its_share_and_another_key_is_admitted_at_once() -> None:
    bulkhead, gate = Bulkhead(threads=4, per_key=2, queue_per_key=3), Gate()
    noisy = [asyncio.create_task(bulkhead.run("a", gate.job, f"a{i}")) for i in range(5)]
    await until(lambda: bulkhead.load("a") == (2, 3), "a's share running and the rest queued")
    with pytest.raises(Overloaded) as refused:
        await bulkhead.run("a", gate.job, "a5")
    assert refused.value.retry_after >= 1
    quiet = asyncio.create_task(bulkhead.run("b", gate.job, "b0"))
    await until(lambda: "b0" in gate.started, "b admitted")
    assert sorted(gate.started) == ["a0", "a1", "b0"]  # b did not wait behind a's queue
    gate.open("b0")
    assert await quiet == "b0"
    for name in ("a0", "a1", "a2", "a3", "a4"):
        gate.open(name)
    assert [await t for t in noisy] == [f"a{i}" for i in range(5)]
    assert gate.started[3:] == ["a2", "a3", "a4"]  # a's queue is served in arrival order
    assert bulkhead.load("a") == (0, 0) and bulkhead.load("b") == (0, 0)
    bulkhead.close()


async def test_a_cancelled_waiter_gives_up_its_place_and_a_failing_job_its_slot() -> None:
    bulkhead, gate = Bulkhead(threads=3, per_key=1, queue_per_key=2), Gate()
    first = asyncio.create_task(bulkhead.run("a", gate.job, "a0"))
    await until(lambda: bulkhead.load("a") == (1, 0), "a0 running")
    waiting = asyncio.create_task(bulkhead.run("a", gate.job, "a1"))
    await until(lambda: bulkhead.load("a") == (1, 1), "a1 queued")
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    assert bulkhead.load("a") == (1, 0)
    gate.open("a0")
    await first

    def boom() -> None:
        raise ValueError("bad payload")

    with pytest.raises(ValueError):
        await bulkhead.run("a", boom)
    assert bulkhead.load("a") == (0, 0)
    gate.open("a2")
    assert await bulkhead.run("a", gate.job, "a2") == "a2"
    bulkhead.close()


def test_a_key_can_never_take_every_thread() -> None:
    with pytest.raises(ValueError):
        Bulkhead(threads=2, per_key=2)
