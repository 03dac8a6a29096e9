"""Exactly-once side effects: a delivery is claimed by one process and runs as recorded steps.

A delivery is anything that changes an outside system in several calls (open a Slack channel, post
and pin its war-room message, announce it). It has a key per org (`room:slack:<incident>`). One
process at a time holds its claim; each step it completes is recorded with what a retry needs (a
channel id, a message ts), and before making anything a step first looks for what an earlier,
interrupted attempt may have made (by name, marker or message metadata). So a retry after a partial
failure, a lost response or a killed process resumes and never makes a second copy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from incident_core.errors import IncidentError
from incident_core.ports import DeliveryClaims, DeliverySteps

Value = dict[str, Any]
SENT = "sent"


class DeliveryBusy(IncidentError):
    """Another live process is doing this delivery right now; the outbox retries the message later."""


class Steps:
    """The recorded steps of one delivery (org, key), read once and recorded as they complete."""

    def __init__(self, ledger: DeliverySteps, org_id: str, key: str) -> None:
        self.ledger, self.org_id, self.key = ledger, org_id, key
        self.done: dict[str, Value] = ledger.steps(org_id, key)
        self._made: set[str] = set()

    def made_here(self, step: str) -> bool:
        """True when this attempt made the step's value itself (`once`'s `make`) and its record stands: no
        earlier attempt recorded the step, nothing was found, and no racing attempt recorded another value."""
        return step in self._made

    def get(self, step: str) -> Value | None:
        """What a completed step left, or None when it has not completed."""
        return self.done.get(step)

    def record(self, step: str, value: Value) -> Value:
        """Record a completed step; the first record stands (a racing attempt keeps the first value)."""
        self.done[step] = self.ledger.record(self.org_id, self.key, step, value)
        return self.done[step]

    def once(self, step: str, make: Callable[[], Value], find: Callable[[], Value | None] | None = None) -> Value:
        """The step's value: as recorded, else what `find` finds an earlier attempt made, else `make` it."""
        if step in self.done:
            return self.done[step]
        found = find() if find is not None else None
        if found is not None:
            return self.record(step, found)
        made = make()
        stands = self.record(step, made)
        if stands == made:
            self._made.add(step)
        return stands


class Deliveries:
    """Claims and steps together: what a use case needs to run a delivery exactly once."""

    def __init__(self, steps: DeliverySteps, claims: DeliveryClaims) -> None:
        self.steps, self.claims = steps, claims

    @contextmanager
    def run(self, org_id: str, key: str, what: str) -> Iterator[Steps]:
        """Hold the delivery's claim and yield its steps; DeliveryBusy when a live process holds it."""
        with self.claims.claim(org_id, key) as held:
            if not held:
                raise DeliveryBusy(f"{what} is being delivered by another process; retrying shortly")
            yield Steps(self.steps, org_id, key)

    def once(self, org_id: str, key: str, what: str, send: Callable[[], Value],
             find: Callable[[], Value | None] | None = None) -> Value:
        """Run a one-step delivery (`send` posts and returns its ids) once per key: `find` looks first."""
        with self.run(org_id, key, what) as steps:
            return steps.once(SENT, send, find)
