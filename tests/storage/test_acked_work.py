"""The durable record of acknowledged requests, on SQLite and PostgreSQL: replays, claims, leases, takeover."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.bootstrap import App
from storage.acked_work import MAX_ATTEMPTS, AckedWork, Arrival
from tests.conftest import make_app


@pytest.fixture
def store_app(db_url: str, tmp_path: Path) -> Iterator[App]:
    built = make_app(db_url, tmp_path)
    yield built
    built.close()


def arrivals(platform: str, n: int) -> list[Arrival]:
    return [Arrival(key=f"sig-{uuid.uuid4().hex}", platform=platform, body=f"body {i}",
                    headers={"content-type": "application/json"}) for i in range(n)]


def test_a_request_is_recorded_once_and_a_replay_gets_no_row(store_app: App) -> None:
    store = AckedWork(store_app.engine)
    first = arrivals("p-" + uuid.uuid4().hex[:6], 3)
    ids = store.record([*first, first[1]])
    assert all(isinstance(i, int) for i in ids[:3]) and ids[3] is None  # a copy in the same batch is a replay
    assert store.record([first[0]]) == [None]  # and so is one in a later batch
    item = store.claim(10, [first[0].platform])[0]
    assert (item.body, item.headers, item.mode) == ("body 0", {"content-type": "application/json"}, "http")


def test_claims_are_exclusive_until_the_lease_runs_out_then_another_process_takes_over(store_app: App) -> None:
    platform = "p-" + uuid.uuid4().hex[:6]
    killed = AckedWork(store_app.engine, lease=1.0)
    other = AckedWork(store_app.engine, lease=1.0)
    killed.record(arrivals(platform, 4))
    mine = killed.claim(3, [platform])
    assert [i.body for i in mine] == ["body 0", "body 1", "body 2"]
    theirs = other.claim(10, [platform])
    assert [i.body for i in theirs] == ["body 3"]  # what the first holds is skipped, not waited for
    other.finish(theirs[0].id)
    killed.renew([mine[0].id])  # still alive for this one …
    time.sleep(1.2)  # … then it dies: its leases run out
    killed.renew([mine[0].id])
    taken = other.claim(10, [platform])
    assert sorted(i.body for i in taken) == ["body 1", "body 2"]
    assert all(i.attempts == 2 for i in taken)


def test_a_finished_request_is_never_claimed_again_and_failures_back_off_then_give_up(store_app: App) -> None:
    platform = "p-" + uuid.uuid4().hex[:6]
    store = AckedWork(store_app.engine, lease=0.5)
    store.record(arrivals(platform, 2))
    done, failing = store.claim(10, [platform])
    store.finish(done.id)
    assert store.retry_later(failing.id, failing.attempts, "boom") is True
    assert store.claim(10, [platform]) == []  # backing off
    assert store.retry_later(failing.id, MAX_ATTEMPTS, "boom again") is False  # finished with its error
    time.sleep(2.2)
    assert store.claim(10, [platform]) == []


def test_other_platforms_rows_are_left_to_processes_that_can_work_them(store_app: App) -> None:
    slack, teams = "s-" + uuid.uuid4().hex[:6], "t-" + uuid.uuid4().hex[:6]
    store = AckedWork(store_app.engine)
    store.record([*arrivals(slack, 1), *arrivals(teams, 1)])
    assert [i.platform for i in store.claim(10, [teams])] == [teams]
    assert [i.platform for i in store.claim(10, [slack, teams])] == [slack]
