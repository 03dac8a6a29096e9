"""Correlation candidates of one batch: read once per project, then kept current in memory as the batch's
signals open and attach, so each signal costs no lookup of its own.

A candidate is what correlation needs to decide (its matched keys, last signal, version), never its state: a
common key (an alertname) matches many incidents, and only the ones correlation picks are loaded."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from incident_core.correlation import OpenIncident
from incident_core.ports import SignalTransaction
from incident_core.signals import Signal
from incident_core.state import IncidentState


class BatchCandidates:
    """Open incidents holding any key of the batch, by project; read inside the batch's transaction, after
    its keys are locked, so no other writer can add an incident on those keys meanwhile."""

    def __init__(self, tx: SignalTransaction, signals: Sequence[Signal]) -> None:
        self._tx = tx
        self._keys: dict[str | None, set[str]] = {}
        for s in signals:
            self._keys.setdefault(s.project_id, set()).update(s.correlation_keys)
        self._open: dict[str | None, dict[str, OpenIncident]] = {}

    def _project(self, project_id: str | None) -> dict[str, OpenIncident]:
        found = self._open.get(project_id)
        if found is None:
            keys = sorted(self._keys.get(project_id, ()))
            found = {c.incident_id: c for c in self._tx.open_incidents(keys, project_id=project_id, since=None)}
            self._open[project_id] = found
        return found

    def for_signal(self, signal: Signal) -> list[OpenIncident]:
        """Open incidents sharing a key with `signal` (correlation itself picks the strongest shared key)."""
        keys = signal.correlation_keys
        return [c for c in self._project(signal.project_id).values() if not c.correlation_keys.isdisjoint(keys)]

    def recorded(self, signal: Signal, state: IncidentState, *, attached: bool, at: datetime) -> None:
        """Keep the candidates current after `signal` opened, joined or resolved into `state`."""
        pool = self._project(signal.project_id)
        if not state.status.is_open:
            pool.pop(state.incident_id, None)
            return
        if not attached:
            return
        known = pool.get(state.incident_id)
        keys = frozenset(signal.correlation_keys)
        if known is None:
            pool[state.incident_id] = OpenIncident(incident_id=state.incident_id, human_id=state.human_id,
                                                   correlation_keys=keys, last_signal_at=at, opened_at=at)
        else:
            pool[state.incident_id] = replace(known, correlation_keys=known.correlation_keys | keys,
                                              last_signal_at=max(known.last_signal_at, at))
