"""Group commit: concurrent batches of one org are coalesced into one transaction, with a bounded linger.

Each caller blocks until the transaction holding its items has committed and gets back its own
outcomes, in its own order. While a batch of the org is being written, the next one forms behind
it: its leader waits for the in-flight transaction to end (bounded by the database's statement
timeout) and takes everyone queued meanwhile, up to `max_items` items (the rest form the batch
after). So one process writes an org's batches one after another, and they never wait on each
other's key locks. Once nothing of the org is in flight, the leader waits at most `linger` seconds more
for others, or until `max_items` are queued (default 0: it goes at once). A few milliseconds let the
first deliveries of a burst share a commit, and under load the callers the last commit answered come
back in time for the next one (docs/benchmarks.md, "Issue 18, seventh session (batch)": at concurrency
32, 5 ms took single alerts from 4.0 to 6.5–6.8 signals per transaction).
When a coalesced transaction fails, every caller runs its own items alone, so one delivery's error
(or a bad payload's) never becomes another's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")

DEFAULT_LINGER_S = 0.0
DEFAULT_MAX_ITEMS = 400


@dataclass
class _Ticket(Generic[Item, Outcome]):
    items: Sequence[Item]
    done: threading.Event = field(default_factory=threading.Event)
    outcomes: list[Outcome] | None = None
    alone: bool = False
    promoted: bool = False  # woken to lead the batch it is queued in


@dataclass
class _Group(Generic[Item, Outcome]):
    ready: threading.Condition
    waiting: list[_Ticket[Item, Outcome]] = field(default_factory=list)
    leading: bool = False  # someone is collecting the next batch
    in_flight: int = 0  # batches of this org being written now


@dataclass(frozen=True)
class GroupStats:
    """Counters for /metrics and benchmarks: transactions written and the callers they carried."""

    transactions: int
    callers: int
    items: int


def _size(tickets: list[_Ticket[Item, Outcome]]) -> int:
    return sum(len(t.items) for t in tickets)


class GroupCommit(Generic[Item, Outcome]):
    """Coalesce concurrent `submit(org_id, items)` calls of one org into one `write(org_id, items)` call."""

    def __init__(self, write: Callable[[str, list[Item]], list[Outcome]], *, linger: float = DEFAULT_LINGER_S,
                 max_items: int = DEFAULT_MAX_ITEMS) -> None:
        self._write = write
        self.linger, self.max_items = linger, max_items
        self._lock = threading.Lock()
        self._groups: dict[str, _Group[Item, Outcome]] = {}
        self._transactions = self._callers = self._items = 0

    def submit(self, org_id: str, items: Sequence[Item]) -> list[Outcome]:
        """Write `items` (in one transaction, possibly shared with other callers); their outcomes, in order."""
        if not items:
            return []
        ticket: _Ticket[Item, Outcome] = _Ticket(items)
        with self._lock:
            group = self._groups.get(org_id)
            if group is None:
                group = self._groups[org_id] = _Group(threading.Condition(self._lock))
            group.waiting.append(ticket)
            lead = not group.leading
            group.leading = True
            if not lead:
                group.ready.notify_all()  # a lingering leader counts it
        if lead:
            self._lead(org_id, group)
        ticket.done.wait()
        while ticket.promoted:  # the batch before took what fit; this caller leads the rest
            ticket.promoted = False
            ticket.done.clear()
            self._lead(org_id, group)
            ticket.done.wait()
        if ticket.alone:
            return self._run(org_id, [ticket])
        assert ticket.outcomes is not None
        return ticket.outcomes

    def _lead(self, org_id: str, group: _Group[Item, Outcome]) -> None:
        with self._lock:
            while group.in_flight:
                group.ready.wait()
            if self.linger > 0:
                deadline = time.monotonic() + self.linger
                while (left := deadline - time.monotonic()) > 0 and _size(group.waiting) < self.max_items:
                    group.ready.wait(left)
            taken = 1  # at least one delivery, however large
            size = len(group.waiting[0].items)
            while taken < len(group.waiting) and size + len(group.waiting[taken].items) <= self.max_items:
                size += len(group.waiting[taken].items)
                taken += 1
            tickets, group.waiting = group.waiting[:taken], group.waiting[taken:]
            group.in_flight += 1
            if group.waiting:
                group.waiting[0].promoted = True
                group.waiting[0].done.set()
            else:
                group.leading = False
        try:
            if len(tickets) == 1:
                self._hand_out(tickets, self._run(org_id, tickets))
                return
            try:
                outcomes = self._run(org_id, tickets)
            except Exception:  # noqa: BLE001 — each caller runs alone and meets its own error, if any
                for ticket in tickets:
                    ticket.alone = True
                    ticket.done.set()
                return
            self._hand_out(tickets, outcomes)
        except BaseException:
            tickets[0].alone = True  # the leader's own ticket: it re-raises by running alone
            for ticket in tickets:
                ticket.alone = True
                ticket.done.set()
            raise
        finally:
            with self._lock:
                group.in_flight -= 1
                group.ready.notify_all()
                if not group.waiting and not group.leading and not group.in_flight:
                    self._groups.pop(org_id, None)

    def _run(self, org_id: str, tickets: list[_Ticket[Item, Outcome]]) -> list[Outcome]:
        items = [item for t in tickets for item in t.items]
        outcomes = self._write(org_id, items)
        if len(outcomes) != len(items):
            raise RuntimeError(f"group commit: {len(items)} items written, {len(outcomes)} outcomes returned")
        with self._lock:
            self._transactions += 1
            self._callers += len(tickets)
            self._items += len(items)
        return outcomes

    @staticmethod
    def _hand_out(tickets: list[_Ticket[Item, Outcome]], outcomes: list[Outcome]) -> None:
        start = 0
        for ticket in tickets:
            ticket.outcomes = outcomes[start:start + len(ticket.items)]
            start += len(ticket.items)
            ticket.done.set()

    def stats(self) -> GroupStats:
        with self._lock:
            return GroupStats(self._transactions, self._callers, self._items)
