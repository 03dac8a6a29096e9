"""A bounded candidate lookup, and when it is certain to hold what correlation would pick from all candidates.

Correlation (correlation.py, `_best_match`) ranks the open incidents sharing a key with a signal by (strength of
their strongest shared key, last signal, id); a candidate's last signal is the latest `last_seen_at` of its keys
among the whole batch's keys. So, for any signal and any window, the incident it picks, and the one its "stale"
sentence names, is for its winning key k the first holder of k by (last signal, id): a first holder shares k
too, so it shares a key at least as strong; the winner's key is the strongest there is, so both share keys of
that strength, and the winner ranks first among those. The window keeps the incidents whose last signal is
recent enough, and a first holder is at least as recent as any other holder of its key: it passes whenever the
winner does. Hence a pool holding, for every key, its first holder (with the same matched keys and last signal
as the unbounded lookup gives it) decides every signal as the full pool does.

A batch keeps its pool current in memory (candidates.py): an open or attached incident is one the pool holds or
adds, and its last signal only moves forward, so no incident left out can overtake it. Only an incident leaving
the pool (no longer open) can bring the next holder of a key first: with `depth` = 1 + the signals that could
close one, every key's first `depth` holders are enough for the whole batch.

The storage reads, per key, the `per_key` open holders that saw that key last. An open holder it left out saw
each of the batch's keys no later than that key's `frontier` (its last row returned), so its last signal is at
most the latest frontier. When every key whose probe was cut holds `depth` returned incidents whose last signal
is later than that, no left-out incident can rank among the first `depth` holders of any key: the pool is exact.
Otherwise the batch reads every candidate, as before."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from incident_core.correlation import OpenIncident


@dataclass(frozen=True)
class RecentCandidates:
    """What a bounded lookup returned: the incidents found (each with its hits among all the keys asked and
    their latest last_seen_at) and, for each key whose probe stopped at the limit, when its last row saw it."""

    incidents: tuple[OpenIncident, ...]
    frontier: Mapping[str, datetime] = field(default_factory=dict)

    def settles(self, depth: int) -> bool:
        """True when, for every key, its first `depth` holders by (last signal, id) are among `incidents`."""
        if not self.frontier:
            return True  # every probe returned all the open holders of its key
        bound = max(self.frontier.values())
        for key in self.frontier:
            lasts = sorted((c.last_signal_at for c in self.incidents if key in c.correlation_keys), reverse=True)
            if len(lasts) < depth or lasts[depth - 1] <= bound:
                return False
        return True
