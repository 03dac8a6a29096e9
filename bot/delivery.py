"""Delivers the outbox: orgs taken round-robin, oldest due first; one message per org at a time; each
subscriber of a message a subscription of its own (bookkeeping in storage/outbox.py, retry policy and
ordering in incident_core/delivery_policy.py).

Threads: a pass runs `threads` workers. Each takes the next org from a queue, claims one message of
it, delivers it and puts the org back at the end, so within a pass every org with work gets one message
per round, whatever its id or backlog; the message's release goes with the worker's next claim (one commit). Independent subscribers of a message run side by side, so a slow
or failing platform holds back nothing but itself. A heartbeat extends the leases of the messages in
flight. Every thread is a daemon and `stop()` never waits for a subscriber call: shutdown is bounded,
and an abandoned message comes back when its (short) lease runs out.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from types import FunctionType, MethodType

from incident_core.delivery_policy import DONE, RetryPolicy, SubscriberState, plan
from incident_core.delivery_snapshot import Snapshot, StateSnapshots
from storage.outbox import COALESCED_TOPIC, LEASE, Outcome, PendingMessage, Release, SqlOutbox

log = logging.getLogger("revenant.delivery")
Subscriber = Callable[[PendingMessage], None]
Subscribers = dict[str, list[Subscriber]]
PER_ORG_PER_PASS = 50  # a pass ends; the next one starts again from the org waiting longest
# A running process renders an incident's refreshes at most once per this window: the first change of a quiet
# incident goes at once; one arriving sooner after the last render waits out the window (`SqlOutbox.defer`), and
# the changes that come meanwhile fold into it (claim's coalescing). A one-off pass (`deliver_once`) never waits.
SETTLE = timedelta(seconds=1)


def subscriber_name(fn: Subscriber) -> str:
    """A name stable across processes: the function's qualified name, or the class of a callable object."""
    explicit = getattr(fn, "subscriber_name", None)
    if isinstance(explicit, str):
        return explicit[:80]
    if isinstance(fn, FunctionType | MethodType):
        return fn.__qualname__[-80:]
    return type(fn).__name__[:80]


def ordering(topics: Mapping[str, Sequence[tuple[str, Subscriber]]]) -> dict[str, tuple[str, ...]]:
    """Who waits for whom, as the subscribers declare it (`after`: names of the same topic they run after;
    the application services say rooms wait for the recurrence watcher and guidance for the rooms)."""
    return {name: tuple(str(dep) for dep in getattr(fn, "after", ()) or ())
            for fns in topics.values() for name, fn in fns if getattr(fn, "after", None)}


def named(subs: Mapping[str, Sequence[Subscriber]]) -> dict[str, list[tuple[str, Subscriber]]]:
    """Each topic's subscribers with unique names (a repeated name gets `#2`, `#3`…)."""
    result: dict[str, list[tuple[str, Subscriber]]] = {}
    for topic, fns in subs.items():
        seen: dict[str, int] = {}
        for fn in fns:
            base = subscriber_name(fn)
            seen[base] = seen.get(base, 0) + 1
            result.setdefault(topic, []).append((base if seen[base] == 1 else f"{base[:76]}#{seen[base]}", fn))
    return result


STOP_GRACE = 2.0  # seconds a stopping process waits for deliveries still running


class Deliverer:
    """Runs delivery passes for one process; `stop()` ends them promptly."""

    def __init__(self, outbox: SqlOutbox, subs: Mapping[str, Sequence[Subscriber]], *, threads: int = 4,
                 policy: RetryPolicy | None = None, lease: timedelta = LEASE,
                 before_each: Callable[[], None] | None = None, monitor: object | None = None,
                 settle: timedelta = timedelta(0), snapshots: StateSnapshots | None = None) -> None:
        self.outbox = outbox
        self.snapshots = snapshots  # the subscribers' state reads, answered once per message (delivery_snapshot.py)
        self.settle = settle
        self.settles_at: float | None = None  # monotonic time the earliest refresh this pass deferred is due
        self._rendered: dict[str, dict[str, float]] = {}  # org -> incident -> when its last refresh started
        self.topics = named(subs)
        self.after = ordering(self.topics)
        self.threads = max(1, threads)
        self.policy = policy or RetryPolicy()
        self.lease = lease
        self.before_each = before_each
        self.monitor = monitor
        self.owner = f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._inflight: dict[int, str] = {}  # message id -> org id, for the heartbeat
        self._heartbeat: threading.Thread | None = None
        self._threads: set[threading.Thread] = set()  # worker and subscriber threads still running

    # --- passes -----------------------------------------------------------------------------------
    def run_pass(self) -> int:
        """Deliver what is due now across every org, fairly; returns how many messages were completed."""
        self._start_heartbeat()
        self.settles_at = None
        orgs = deque(self.outbox.due_orgs())
        if not orgs:
            return 0
        taken: dict[str, int] = {}
        done = [0]

        def work() -> None:
            held: Release | None = None  # the last message's release, sent with this thread's next claim
            try:
                while not self._stop.is_set():
                    with self._lock:
                        if not orgs:
                            return
                        org_id = orgs.popleft()
                    msg, held = self._claim(org_id, held), None
                    if msg is None:
                        continue
                    try:
                        if self._settles(msg):
                            completed = False  # back when its window ends; the org's other messages go on
                        else:
                            if self.before_each is not None:
                                self.before_each()
                            completed, held = self._deliver(msg)
                    except Exception:  # noqa: BLE001 — bookkeeping failed (database): the lease lapses, it comes back
                        log.exception("delivering message %s of org %s failed; it is retried after its lease",
                                      msg.id, org_id)
                        continue
                    if completed:
                        with self._lock:
                            done[0] += 1
                    with self._lock:
                        taken[org_id] = taken.get(org_id, 0) + 1
                        if taken[org_id] < PER_ORG_PER_PASS:
                            orgs.append(org_id)  # round-robin: back of the queue
            finally:
                if held is not None:
                    self._give_back(held)

        workers = [threading.Thread(target=work, name=f"revenant-deliver-{i}", daemon=True)
                   for i in range(min(self.threads, len(orgs)))]
        self._start_all(workers)
        for t in workers:
            while t.is_alive() and not self._stop.is_set():
                t.join(0.2)
        return done[0]

    def _claim(self, org_id: str, held: Release | None) -> PendingMessage | None:
        """The org's next message (None: nothing, or the database failed), the last message's release sent with it."""
        settling = self._settling(org_id)
        prefetch = self.snapshots is not None  # the incident's first reads come with the claim (delivery_snapshot.py)
        try:
            if held is None:
                return self.outbox.claim(org_id, owner=self.owner, lease=self.lease, settling=settling,
                                         prefetch=prefetch)
            _released, msg = self.outbox.release_then_claim(held, org_id, lease=self.lease, settling=settling,
                                                            prefetch=prefetch)
        except Exception:  # noqa: BLE001 — the database hiccuped: leave this org to the next pass
            log.exception("claiming a message of org %s failed", org_id)
            if held is not None:
                self._give_back(held)  # the release on its own, so the outcomes stand
            return None
        self._completed(held)
        return msg

    def _give_back(self, release: Release) -> None:
        """Send a release on its own (logged, not raised: on failure the lease lapses and the message returns)."""
        try:
            self.outbox.release(release.msg, owner=release.owner, next_at=release.next_at, error=release.error,
                                outcomes=release.outcomes)
        except Exception:  # noqa: BLE001
            log.exception("releasing message %s of org %s failed; it is retried after its lease", release.msg.id,
                          release.msg.org_id)
            return
        self._completed(release)

    def _completed(self, release: Release) -> None:
        if release.next_at is None and self.monitor is not None:
            self.monitor.completed(release.msg)  # type: ignore[attr-defined]

    def next_wait(self, interval: float) -> float:
        """Seconds until the next pass: `interval`, or sooner when a refresh this pass deferred falls due."""
        if self.settles_at is None:
            return interval
        return min(interval, max(0.0, self.settles_at - time.monotonic()) + 0.01)

    def stop(self) -> None:
        """Stop claiming; subscriber calls still running finish or are abandoned (their leases lapse)."""
        self._stop.set()

    def join(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for running worker and subscriber threads; True when none is left.

        Call before the process exits: a thread left inside a native library (the embedder, Chroma) while
        the interpreter finalizes can abort the process ("terminate called without an active exception").
        """
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            with self._lock:
                alive = [t for t in self._threads if t.is_alive()]
            if not alive:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                log.warning("%d delivery thread(s) still busy after %.1f s; their messages return when the "
                            "lease lapses", len(alive), timeout)
                return False
            alive[0].join(min(left, 0.2))

    def _start_all(self, threads: list[threading.Thread]) -> None:
        with self._lock:
            self._threads = {t for t in self._threads if t.is_alive()} | set(threads)
        for t in threads:
            t.start()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    # --- one message -----------------------------------------------------------------------------
    def _settling(self, org_id: str) -> dict[str, datetime] | None:
        """The org's incidents whose last refresh started within `settle`, each with the time its window ends:
        the claim defers a fresh refresh of one of them to that time instead of leasing it."""
        if not self.settle:
            return None
        now, window = time.monotonic(), self.settle.total_seconds()
        wall = datetime.now(UTC)
        with self._lock:
            rendered = self._rendered.get(org_id)
            if not rendered:
                return None
            for incident in [i for i, at in rendered.items() if now - at >= window]:
                del rendered[incident]  # forget incidents rendered longer ago than the window
            if not rendered:
                del self._rendered[org_id]
                return None
            return {incident: wall + timedelta(seconds=at + window - now) for incident, at in rendered.items()}

    def _settles(self, msg: PendingMessage) -> bool:
        """True when the claim deferred the message (its incident settling: nothing to deliver now); otherwise a
        fresh refresh notes the render about to start (False). Either way the claim's deferrals set the next pass."""
        if msg.deferred_due is not None:  # refreshes the claim deferred: the next pass runs when the first falls due
            due = time.monotonic() + max(0.0, (msg.deferred_due - datetime.now(UTC)).total_seconds())
            with self._lock:
                self.settles_at = due if self.settles_at is None else min(self.settles_at, due)
        if msg.deferred_until is not None:
            return True
        if self.settle and msg.topic == COALESCED_TOPIC and not msg.deliveries:
            with self._lock:
                self._rendered.setdefault(msg.org_id, {})[str(msg.payload.get("incident_id", ""))] = time.monotonic()
        return False

    def deliver(self, msg: PendingMessage) -> bool:
        """Run the message's due subscribers (dependencies first), record each outcome, release the lease.

        Returns True when every subscriber is done with the message.
        """
        completed, release = self._deliver(msg)
        if release is not None:
            self.outbox.release(release.msg, owner=release.owner, next_at=release.next_at, error=release.error,
                                outcomes=release.outcomes)
            self._completed(release)
        return completed

    def _deliver(self, msg: PendingMessage) -> tuple[bool, Release | None]:
        """`deliver` up to the release, which it returns instead of sending (None: a subscriber call was abandoned
        and the lease is kept until it lapses); the pass sends it with its next claim, one commit for both."""
        subs = dict(self.topics.get(msg.topic, []))
        names = list(subs)
        states: dict[str, SubscriberState] = dict(msg.deliveries)
        errors: list[str] = []
        snapshot = Snapshot(msg.prefetched)  # every subscriber, in every round, reads the incident once (or not at all)
        with self._lock:
            self._inflight[msg.id] = msg.org_id
        try:
            step = plan(names, self.after, states, datetime.now(UTC))
            outcomes: list[Outcome] = []
            abandoned = False  # a stop left a subscriber call running
            while step.run and not self._stop.is_set():
                results = self._run(msg, [(n, subs[n]) for n in step.run], snapshot)
                abandoned = len(results) < len(step.run)
                outcomes = [self._outcome(msg, name, states.get(name, SubscriberState()), result, errors)
                            for name, result in results]
                states.update({o.subscriber: SubscriberState(o.state, o.attempts, o.available_at) for o in outcomes})
                step = plan(names, self.after, states, datetime.now(UTC))
                if step.run:  # more to run: make these outcomes durable first (a crash must not repeat them)
                    self.outbox.record(msg, outcomes)
                    outcomes = []
            if abandoned:
                if outcomes:
                    self.outbox.record(msg, outcomes)
                return False, None  # the lease keeps other processes off the call still running until it lapses
            # Stopping between calls, too: the outcomes and the lease are given back and the subscribers not run
            # yet are due again at once for another process (left to lapse, the lease held it back for nothing).
            next_at = _next_time(names, states, step.waiting, self.policy)
            if step.run and self._stop.is_set():  # not the retry backoff: nothing failed, they just did not run
                next_at = datetime.now(UTC)
            # the last outcomes and the release: one transaction (with the next claim's)
            return next_at is None, Release(msg, self.owner, next_at, "; ".join(errors) or None, outcomes)
        finally:
            with self._lock:
                self._inflight.pop(msg.id, None)

    def _run(self, msg: PendingMessage, calls: list[tuple[str, Subscriber]],
             snapshot: Snapshot) -> list[tuple[str, BaseException | None]]:
        """Call each subscriber; several at once on daemon threads of their own."""
        if len(calls) == 1:
            return [(calls[0][0], self._call(calls[0][1], msg, snapshot))]
        results: dict[str, BaseException | None] = {}

        def one(name: str, fn: Subscriber) -> None:
            results[name] = self._call(fn, msg, snapshot)

        threads = [threading.Thread(target=one, args=call, daemon=True, name=f"revenant-sub-{call[0][:20]}")
                   for call in calls]
        self._start_all(threads)
        stopped_by: float | None = None
        for t in threads:
            while t.is_alive():
                if self._stop.is_set():  # a stop gives the calls running STOP_GRACE to end, then leaves them
                    stopped_by = stopped_by or time.monotonic() + STOP_GRACE
                    if time.monotonic() >= stopped_by:
                        break
                t.join(0.2)
        return [(name, results[name]) for name, _ in calls if name in results]

    def _outcome(self, msg: PendingMessage, name: str, before: SubscriberState, result: BaseException | None,
                 errors: list[str]) -> Outcome:
        """What one call came to: delivered, or failed (logged, counted) and pending again or dead."""
        attempts = before.attempts + 1
        if result is None:
            if self.monitor is not None:
                self.monitor.delivered(msg, name, attempts)  # type: ignore[attr-defined]
            return Outcome(name, "delivered", attempts)
        now = datetime.now(UTC)
        next_at = self.policy.after_failure(attempts, now)
        error = f"{type(result).__name__}: {result}".strip()[:2000]
        errors.append(f"{name}: {error}"[:500])
        if next_at is None:
            log.error("delivery of %s (%s, org %s) to %s is dead after %d attempts: %s; "
                      "`revenant outbox retry --org %s` tries again", msg.key, msg.topic, msg.org_id, name, attempts,
                      error, msg.org_id)
        else:
            log.warning("delivery of %s (%s, org %s) to %s failed (attempt %d of %d, next in %.0f s): %s",
                        msg.key, msg.topic, msg.org_id, name, attempts, self.policy.max_attempts,
                        (next_at - now).total_seconds(), error)
        if self.monitor is not None:
            self.monitor.failed(msg, name, dead=next_at is None)  # type: ignore[attr-defined]
        return Outcome(name, "pending" if next_at is not None else "dead", attempts, next_at, error)

    def _call(self, fn: Subscriber, msg: PendingMessage, snapshot: Snapshot) -> BaseException | None:
        """One subscriber call, its state reads answered from the message's snapshot."""
        if self.snapshots is None:
            return _call(fn, msg)
        with self.snapshots.delivering(snapshot):
            return _call(fn, msg)

    # --- leases ----------------------------------------------------------------------------------
    def _start_heartbeat(self) -> None:
        if self._heartbeat is None:
            self._heartbeat = threading.Thread(target=self._beat, name="revenant-lease-heartbeat", daemon=True)
            self._heartbeat.start()

    def _beat(self) -> None:
        """Every third of a lease, extend the leases of the messages this process is working on."""
        interval = max(self.lease.total_seconds() / 3, 0.05)
        while not self._stop.wait(interval):
            with self._lock:
                by_org: dict[str, list[int]] = {}
                for message_id, org_id in self._inflight.items():
                    by_org.setdefault(org_id, []).append(message_id)
            for org_id, ids in by_org.items():
                try:
                    self.outbox.extend(org_id, ids, owner=self.owner, lease=self.lease)
                except Exception as exc:  # noqa: BLE001 — try again next beat; the lease has slack
                    log.warning("could not extend the delivery lease of org %s: %s", org_id, exc)


def _call(fn: Subscriber, msg: PendingMessage) -> BaseException | None:
    try:
        fn(msg)
    except Exception as exc:  # noqa: BLE001 — every failure is recorded against its subscriber
        return exc
    return None


def _next_time(names: list[str], states: Mapping[str, SubscriberState], waiting: Mapping[str, str],
               policy: RetryPolicy) -> datetime | None:
    """When the message is due again: its earliest pending subscriber (a waiting one goes with its blocker)."""
    times: list[datetime] = []
    for name in names:
        current = states.get(name, SubscriberState())
        if current.state in DONE:
            continue
        if current.available_at is not None:
            times.append(current.available_at)
        elif name in waiting and states.get(waiting[name], SubscriberState()).available_at is not None:
            times.append(states[waiting[name]].available_at)  # type: ignore[arg-type]
        else:
            times.append(datetime.now(UTC) + policy.base)
    return min(times) if times else None

