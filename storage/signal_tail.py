"""The rows one append adds to an incident's signal tail (storage/signal_tail_tables.py).

They are taken from the state after the append (the fold in incident_core/state.py decides what is kept):
the new recent signals and metric points, each at its ordinal, and the new counts of the log lines it
touched. The SQL then resolves older recent rows, inserts the new ones and trims each table to its cap
(storage/append_rules.py). Consecutive appends to one incident merge (`absorb`), which is also how a
rebuild replays a stream into the same rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from incident_core import events as ev
from incident_core.state import MAX_METRIC_POINTS, MAX_RECENT_SIGNALS, IncidentState, log_line

POINT_SLOTS = MAX_METRIC_POINTS  # a signal's points take seqs ordinal × POINT_SLOTS + (0 … POINT_SLOTS-1)


@dataclass
class SignalTail:
    """Rows for one incident; `resolved` are fingerprints resolved by the append, applied to rows stored earlier."""

    incident_id: str = ""
    recent: dict[int, dict[str, Any]] = field(default_factory=dict)
    resolved: list[str] = field(default_factory=list)
    points: dict[int, dict[str, Any]] = field(default_factory=dict)
    logs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def absorb(self, later: SignalTail) -> None:
        """Merge the tail of the next append to the same incident (its resolutions reach our rows too)."""
        for row in self.recent.values():
            if row["fingerprint"] in later.resolved:
                row["status"] = "resolved"
        self.recent = _newest({**self.recent, **later.recent}, MAX_RECENT_SIGNALS)
        self.resolved += [f for f in later.resolved if f not in self.resolved]
        self.points = _newest({**self.points, **later.points}, MAX_METRIC_POINTS)
        self.logs.update(later.logs)

    def __bool__(self) -> bool:
        return bool(self.recent or self.resolved or self.points or self.logs)


def _newest(rows: dict[int, dict[str, Any]], keep: int) -> dict[int, dict[str, Any]]:
    return {seq: rows[seq] for seq in sorted(rows)[-keep:]}


def tail_of(state: IncidentState, events: Sequence[ev.Event]) -> SignalTail:
    """The tail rows written by appending `events`, read from `state` (the state after them)."""
    attached = [e for e in events if isinstance(e, ev.SignalAttached)]
    tail = SignalTail(incident_id=state.incident_id, resolved=list(dict.fromkeys(e.fingerprint for e in events if isinstance(e, ev.SignalResolved))))
    if not attached:
        return tail
    owner = {"org_id": state.org_id, "incident_id": state.incident_id}
    first = state.signal_count - len(attached) + 1
    new = min(len(attached), len(state.recent_signals))
    for i, brief in enumerate(state.recent_signals[len(state.recent_signals) - new:]):
        tail.recent[state.signal_count - new + 1 + i] = {**owner, "seq": state.signal_count - new + 1 + i, **brief}
    seqs = [(first + n) * POINT_SLOTS + j for n, e in enumerate(attached)
            for j in range(min(len(e.signal.get("values", ())), POINT_SLOTS))]
    new = min(len(seqs), len(state.metric_points))
    for seq, (at, name, value) in zip(seqs[len(seqs) - new:], state.metric_points[len(state.metric_points) - new:],
                                      strict=True):
        tail.points[seq] = {**owner, "seq": seq, "at": at, "name": name, "value": value}
    for e in attached:
        line = log_line(e.signal)
        if line is not None and line in state.log_lines:
            tail.logs[line] = {**owner, "line": line, "count": state.log_lines[line]}
    return tail
