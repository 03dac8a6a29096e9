"""Recording a recurrence: the command and its decider (merged into aggregate.decide)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from incident_core import events as ev
from incident_core.commands import Command
from incident_core.decisions import envelope
from incident_core.patterns import key_label
from incident_core.state import IncidentState


@dataclass(frozen=True, kw_only=True)
class NoteRecurrence(Command):
    """Record that the incident matches a pattern (a no-op when the same match is already recorded)."""

    key: str
    window_days: int
    prior: tuple[str, ...]
    postmortems: tuple[dict[str, Any], ...] = ()
    items_open: int = 0
    items_done: int = 0
    items_unknown: int = 0
    signature: str = ""


@dataclass(frozen=True, kw_only=True)
class WithdrawRecurrence(Command):
    """Withdraw the recorded match: a check with the org's (narrower) window found none (a no-op when none is
    recorded)."""

    window_days: int
    signature: str = ""


def withdrawal_reason(prior: tuple[str, ...], window_days: int, previous_days: int) -> str:
    """`INC-3, INC-7 are outside the 7-day window (recurrence_days changed from 30)` (our own ids and counts)."""
    verb = "is" if len(prior) == 1 else "are"
    return (f"{', '.join(prior)} {verb} outside the {window_days}-day window "
            f"(recurrence_days changed from {previous_days})")


def _withdraw(s: IncidentState, c: WithdrawRecurrence) -> list[ev.Event]:
    noted = s.recurrence
    if not s.status.is_open or noted is None or not noted.prior:
        return []
    return [ev.RecurrenceWithdrawn(**envelope(s, c), key=noted.key, label=noted.label or key_label(noted.key),
                                   window_days=c.window_days, previous_window_days=noted.window_days,
                                   prior=noted.prior, signature=c.signature,
                                   reason=withdrawal_reason(noted.prior, c.window_days, noted.window_days))]


def _note(s: IncidentState, c: NoteRecurrence) -> list[ev.Event]:
    if not s.status.is_open or not c.prior:
        return []
    fields = {"key": c.key, "window_days": c.window_days, "prior": list(c.prior),
              "postmortems": [dict(p) for p in c.postmortems], "items_open": c.items_open,
              "items_done": c.items_done, "items_unknown": c.items_unknown, "signature": c.signature}
    current = s.recurrence.to_dict() if s.recurrence else {}
    if {k: current.get(k) for k in fields} == fields:
        return []
    return [ev.RecurrenceNoted(**envelope(s, c), key=c.key, label=key_label(c.key), window_days=c.window_days,
                               prior=tuple(c.prior), postmortems=tuple(c.postmortems), items_open=c.items_open,
                               items_done=c.items_done, items_unknown=c.items_unknown, signature=c.signature)]


RECURRENCE_DECIDERS: dict[type, Callable[[Any, Any], list[Any]]] = {NoteRecurrence: _note,
                                                                     WithdrawRecurrence: _withdraw}
