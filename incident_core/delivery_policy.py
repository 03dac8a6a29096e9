"""How a subscriber's failed delivery is retried, and which subscribers of a message may run now.

Every (message, subscriber) pair is a subscription of its own: it backs off, runs out of attempts and
dies on its own. A subscriber may declare others of the same topic it runs `after` (guidance needs the
room); it waits for them without spending attempts, and a dead or absent one no longer holds it back.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

DONE = frozenset({"delivered", "dead", "dropped", "coalesced"})


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter and an attempt cap (the attempt that reaches it makes the delivery dead)."""

    base: timedelta = timedelta(seconds=2)
    cap: timedelta = timedelta(minutes=5)
    max_attempts: int = 12
    jitter: float = 0.5  # the delay is drawn from [(1 - jitter) × d, d]

    def delay(self, attempts: int, rng: random.Random | None = None) -> timedelta:
        """The wait after `attempts` failed attempts (attempts ≥ 1)."""
        full = min(self.cap, self.base * (1 << min(max(attempts - 1, 0), 30)))
        low = 1.0 - self.jitter
        draw = rng.uniform(low, 1.0) if rng else random.uniform(low, 1.0)
        return full * draw

    def after_failure(self, attempts: int, now: datetime, rng: random.Random | None = None) -> datetime | None:
        """When to try again after the `attempts`-th failure, or None when the delivery is dead."""
        if attempts >= self.max_attempts:
            return None
        return now + self.delay(attempts, rng)


@dataclass(frozen=True)
class SubscriberState:
    """What a message's delivery to one subscriber has come to so far."""

    state: str = "pending"
    attempts: int = 0
    available_at: datetime | None = None


@dataclass(frozen=True)
class Plan:
    """The subscribers of one message to run now (in order), and those waiting on another until a time."""

    run: tuple[str, ...]
    waiting: Mapping[str, str] = field(default_factory=dict)  # subscriber -> the one it waits for


def plan(names: Sequence[str], after: Mapping[str, Iterable[str]], states: Mapping[str, SubscriberState],
         now: datetime) -> Plan:
    """Subscribers whose turn it is: not done, due, and every `after` dependency done (or not registered)."""
    present = set(names)
    run: list[str] = []
    waiting: dict[str, str] = {}
    for name in names:
        current = states.get(name, SubscriberState())
        if current.state in DONE or (current.available_at is not None and current.available_at > now):
            continue
        blocker = next((dep for dep in after.get(name, ()) if dep in present
                        and states.get(dep, SubscriberState()).state not in DONE), None)
        if blocker is None:
            run.append(name)
        else:
            waiting[name] = blocker
    return Plan(run=tuple(run), waiting=waiting)
