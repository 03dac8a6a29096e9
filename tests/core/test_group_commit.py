"""Group commit: concurrent callers of one org share a write, each gets its own outcomes, errors stay their own."""

from __future__ import annotations

import threading

import pytest

from incident_core.group_commit import GroupCommit


class SlowWriter:
    """Records each write; the first write of an org blocks until released, so others pile up behind it."""

    def __init__(self) -> None:
        self.writes: list[tuple[str, list[str]]] = []
        self.release = threading.Event()
        self.first_started = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, org_id: str, items: list[str]) -> list[str]:
        with self._lock:
            first = not self.writes
            self.writes.append((org_id, list(items)))
        if first:
            self.first_started.set()
            assert self.release.wait(10)
        if any(i.startswith("bad") for i in items):
            raise ValueError(f"bad item in {items}")
        return [f"{org_id}:{i}" for i in items]


def _call(group: GroupCommit[str, str], org: str, items: list[str], out: dict[str, object]) -> None:
    try:
        out[items[0]] = group.submit(org, items)
    except Exception as exc:  # noqa: BLE001 — compared by the test
        out[items[0]] = exc


def _pile_up(group: GroupCommit[str, str], writer: SlowWriter, calls: list[tuple[str, list[str]]]
             ) -> dict[str, object]:
    """One call starts a write and blocks in it; the others arrive meanwhile; then the write is released."""
    out: dict[str, object] = {}
    first = threading.Thread(target=_call, args=(group, "org-a", ["first"], out))
    first.start()
    assert writer.first_started.wait(10)
    threads = [threading.Thread(target=_call, args=(group, org, items, out)) for org, items in calls]
    for t in threads:
        t.start()
    while sum(len(g.waiting) for g in group._groups.values()) < len(calls):  # noqa: SLF001 — all queued
        threading.Event().wait(0.001)
    writer.release.set()
    for t in [first, *threads]:
        t.join(10)
    return out


def test_callers_arriving_during_a_write_share_the_next_transaction_and_get_their_own_outcomes() -> None:
    writer = SlowWriter()
    group: GroupCommit[str, str] = GroupCommit(writer, max_items=6)
    calls = [("org-a", [f"d{i}-0", f"d{i}-1"]) for i in range(3)]
    out = _pile_up(group, writer, calls)
    assert out["first"] == ["org-a:first"]
    for i in range(3):
        assert out[f"d{i}-0"] == [f"org-a:d{i}-0", f"org-a:d{i}-1"]
    # the three deliveries formed one batch behind the first write, and went in one write after it
    assert len(writer.writes) == 2
    assert sorted(writer.writes[1][1]) == sorted(i for _, items in calls for i in items)
    assert group.stats().transactions == 2 and group.stats().callers == 4


def test_a_batch_takes_what_fits_and_the_rest_forms_the_next() -> None:
    writer = SlowWriter()
    group: GroupCommit[str, str] = GroupCommit(writer, max_items=4)
    calls = [("org-a", [f"d{i}-0", f"d{i}-1"]) for i in range(3)]
    out = _pile_up(group, writer, calls)
    for i in range(3):
        assert out[f"d{i}-0"] == [f"org-a:d{i}-0", f"org-a:d{i}-1"]
    assert [len(items) for _, items in writer.writes] == [1, 4, 2]


def test_one_org_never_waits_for_another() -> None:
    writer = SlowWriter()
    group: GroupCommit[str, str] = GroupCommit(writer, linger=0.0)
    out: dict[str, object] = {}
    first = threading.Thread(target=_call, args=(group, "org-a", ["first"], out))
    first.start()
    assert writer.first_started.wait(10)
    # org-a's write is blocked; org-b's goes through at once, in a write of its own
    assert group.submit("org-b", ["b0"]) == ["org-b:b0"]
    writer.release.set()
    first.join(10)
    assert out["first"] == ["org-a:first"]
    assert writer.writes == [("org-a", ["first"]), ("org-b", ["b0"])]


def test_a_failing_delivery_fails_alone() -> None:
    writer = SlowWriter()
    group: GroupCommit[str, str] = GroupCommit(writer, max_items=3)
    out = _pile_up(group, writer, [("org-a", ["ok1"]), ("org-a", ["bad1"]), ("org-a", ["ok2"])])
    assert out["ok1"] == ["org-a:ok1"] and out["ok2"] == ["org-a:ok2"]
    assert isinstance(out["bad1"], ValueError)
    # the shared write failed, then each delivery was written on its own
    assert sorted(writer.writes[1][1]) == ["bad1", "ok1", "ok2"]
    assert sorted(items[0] for _, items in writer.writes[2:]) == ["bad1", "ok1", "ok2"]


def test_a_lone_caller_goes_at_once_and_an_empty_one_writes_nothing() -> None:
    calls: list[list[str]] = []
    group: GroupCommit[str, str] = GroupCommit(lambda org, items: calls.append(items) or items)
    assert group.submit("org-a", ["x"]) == ["x"]
    assert group.submit("org-a", []) == []
    assert calls == [["x"]]


def test_a_linger_collects_callers_that_arrive_within_it() -> None:
    calls: list[list[str]] = []
    group: GroupCommit[str, str] = GroupCommit(lambda org, items: calls.append(items) or items, linger=30.0,
                                               max_items=2)
    out: dict[str, object] = {}
    threads = [threading.Thread(target=_call, args=(group, "org-a", [name], out)) for name in ("x", "y")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)  # the second caller fills the batch (max_items): no 30 s wait
    assert out == {"x": ["x"], "y": ["y"]}
    assert sorted(calls[0]) == ["x", "y"]


def test_a_writer_returning_the_wrong_count_is_an_error() -> None:
    group: GroupCommit[str, str] = GroupCommit(lambda org, items: items[:-1])
    with pytest.raises(RuntimeError, match="2 items written, 1 outcomes"):
        group.submit("org-a", ["x", "y"])
