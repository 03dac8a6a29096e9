"""Correlation candidates of one batch: read once per project, then kept current in memory as the batch's
signals open and attach, so each signal costs no lookup of its own.

A candidate is what correlation needs to decide (its matched keys, last signal, version), never its state: a
common key (an alertname) matches many incidents, and only the ones correlation picks are loaded. Nor are they
all read: per key, the few open incidents that saw it last are enough, when the lookup shows it is certain
(candidate_bound.py); otherwise every open incident holding a key of the batch is read."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from incident_core.correlation import OpenIncident
from incident_core.ports import SignalTransaction
from incident_core.signals import Signal, SignalStatus
from incident_core.state import IncidentState

# Rows read per key beyond the depth the batch needs: keys that every open incident shares then settle (the
# holders returned rank above the cut), instead of sending the batch to the full lookup.
PROBE_SLACK = 1
# Past this depth (a batch resolving many signals of one project) the full lookup is read at once.
MAX_DEPTH = 8
# Past this many keys (an Alertmanager group, a coalesced batch of many alerts) too: each key is a probe of its
# own, and the more keys, the likelier one cut unsettles the pool and the full lookup runs after the probes
# (bench/ingest.py --alerts 50: PostgreSQL's CPU per alert +30-50 % with the probe, docs/benchmarks.md, cand).
MAX_PROBED_KEYS = 32


class BatchCandidates:
    """Open incidents holding any key of the batch, by project; read inside the batch's transaction, after
    its keys are locked, so no other writer can add an incident on those keys meanwhile."""

    def __init__(self, tx: SignalTransaction, signals: Sequence[Signal]) -> None:
        self._tx = tx
        self._keys: dict[str | None, set[str]] = {}
        # 1 + the signals that could take an incident out of the pool (a resolution): how many first holders
        # of each key the pool must hold for the whole batch (candidate_bound.py)
        self._depth: dict[str | None, int] = {}
        for s in signals:
            self._keys.setdefault(s.project_id, set()).update(s.correlation_keys)
            self._depth[s.project_id] = self._depth.get(s.project_id, 1) + (s.status is SignalStatus.RESOLVED)
        self._open: dict[str | None, dict[str, OpenIncident]] = {}
        self.bounded = 0  # projects whose pool came from the bounded lookup (the others read every candidate)

    def _project(self, project_id: str | None) -> dict[str, OpenIncident]:
        found = self._open.get(project_id)
        if found is None:
            keys = sorted(self._keys.get(project_id, ()))
            depth = self._depth.get(project_id, 1)
            candidates = None
            if depth <= MAX_DEPTH and len(keys) <= MAX_PROBED_KEYS:
                probe = self._tx.recent_candidates(keys, project_id=project_id, per_key=depth + PROBE_SLACK)
                if probe.settles(depth):
                    candidates, self.bounded = probe.incidents, self.bounded + 1
            if candidates is None:
                candidates = tuple(self._tx.open_incidents(keys, project_id=project_id, since=None))
            found = self._open[project_id] = {c.incident_id: c for c in candidates}
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
        if known is None:
            pool[state.incident_id] = OpenIncident(incident_id=state.incident_id, human_id=state.human_id,
                                                   correlation_keys=frozenset(signal.correlation_keys),
                                                   last_signal_at=at, opened_at=at)
        elif not (known.correlation_keys.issuperset(signal.correlation_keys) and known.last_signal_at >= at):
            # (a signal repeating held keys at an earlier or equal moment leaves the candidate as it is)
            pool[state.incident_id] = OpenIncident(
                incident_id=known.incident_id, human_id=known.human_id,
                correlation_keys=known.correlation_keys.union(signal.correlation_keys),
                last_signal_at=max(known.last_signal_at, at), opened_at=known.opened_at)
