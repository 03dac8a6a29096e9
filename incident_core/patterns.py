"""Recurring patterns: incidents grouped by service and by their strongest shared alert key over a period.

Pure functions over `PastIncident`, the facts a pattern needs, read from an incident's state (the
projection, so every number can be replayed from the events). An alert key is a correlation key of
an `alertname…` kind: the alert name within the scope the signal gave it (`alertname+service=
HighLatency/checkout`). When an incident holds several keys for one alert name, the strongest (most
scoped) one stands for it, so an alert groups only with the same alert in the same scope.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from statistics import fmean
from typing import Any

from incident_core.correlation import KEY_STRENGTH
from incident_core.model import Severity, Status
from incident_core.postmortem_model import LOCKED, status_of
from incident_core.postmortem_render import knowledge_path
from incident_core.state import IncidentState

ALERT_KIND = "alertname"
SERVICE_KIND = "service"
ITEM_OPEN, ITEM_DONE, ITEM_UNKNOWN = "open", "done", "unknown"


@dataclass(frozen=True)
class ActionItem:
    """One postmortem action item and whether it is done (read from the tracker when there is one)."""

    incident_id: str
    item_id: str
    title: str
    owner: str = ""
    status: str = ITEM_OPEN
    tracker_ref: str = ""  # e.g. the Jira issue key


@dataclass(frozen=True)
class PostmortemRef:
    """An approved (or published) postmortem of a past incident, and where the knowledge loop indexed it."""

    incident_id: str
    human_id: str
    status: str
    path: str
    action_items: tuple[ActionItem, ...] = ()


@dataclass(frozen=True)
class PastIncident:
    """What pattern detection reads about one incident."""

    incident_id: str
    human_id: str
    project_id: str | None
    title: str
    severity: Severity
    opened_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    services: tuple[str, ...] = ()
    alert_keys: tuple[str, ...] = ()
    postmortem: PostmortemRef | None = None

    @property
    def time_to_acknowledge(self) -> float | None:
        """Seconds from opening to the first move out of `triggered` (None when it never sat there)."""
        return None if self.acknowledged_at is None else (self.acknowledged_at - self.opened_at).total_seconds()

    @property
    def time_to_resolve(self) -> float | None:
        """Seconds from opening to the first resolution (None while unresolved)."""
        return None if self.resolved_at is None else (self.resolved_at - self.opened_at).total_seconds()


def alert_name(key: str) -> str:
    """`alertname+service=HighLatency/checkout` → `HighLatency`."""
    return key.partition("=")[2].split("/", 1)[0]


def alert_keys(correlation_keys: Iterable[str]) -> tuple[str, ...]:
    """The strongest alert key per alert name among an incident's correlation keys, sorted."""
    best: dict[str, tuple[int, str]] = {}
    _strongest(best, correlation_keys)
    return tuple(sorted(key for _, key in best.values()))


def _strongest(best: dict[str, tuple[int, str]], keys: Iterable[str]) -> None:
    """Fold `keys` into `best` (alert name → (strength, key) of its strongest key so far).

    One partition per key: a key starts with ALERT_KIND exactly when its kind (the part before the first "=")
    does, since ALERT_KIND holds no "="."""
    for key in keys:
        if not key.startswith(ALERT_KIND):
            continue
        kind, _, value = key.partition("=")
        name = value.split("/", 1)[0]  # alert_name(key)
        if not name:
            continue
        rank = (KEY_STRENGTH.get(kind, 0), key)  # (key_strength(key), key)
        if name not in best or rank > best[name]:
            best[name] = rank


# A state's alert keys are remembered on the state object itself: a pure function of a frozen state, so the
# memo is exactly as trustworthy as the object. A state computed in a transaction that rolls back is never
# put in the process's state cache (storage/unit_of_work.py fills it after commit), so its memo dies with it.
_ALERT_KEYS = "_alert_keys"


def state_alert_keys(state: IncidentState) -> tuple[str, ...]:
    """`alert_keys(state.correlation_keys)`, computed once per state object."""
    known: tuple[str, ...] | None = state.__dict__.get(_ALERT_KEYS)
    if known is None:
        known = state.__dict__[_ALERT_KEYS] = alert_keys(state.correlation_keys)
    return known


def next_alert_keys(before: IncidentState, after: IncidentState) -> tuple[str, ...]:
    """`after`'s alert keys, from `before`'s and the keys the change added and evicted: an alert name's
    strongest key stays unless an added key beats it or it was evicted itself (then every key is walked
    again). Remembered on `after`, which is the state before the next append: an append walks its new
    and evicted keys, not the incident's ~200."""
    known: tuple[str, ...] | None = after.__dict__.get(_ALERT_KEYS)
    if known is not None:
        return known
    old, new = before.correlation_keys, after.correlation_keys
    known = state_alert_keys(before)
    added = new.keys() - old.keys()
    if len(new) != len(old) + len(added) and not (old.keys() - new.keys()).isdisjoint(known):
        return state_alert_keys(after)  # a strongest key was evicted: the next strongest is unknown here
    if any(k.startswith(ALERT_KIND) for k in added):
        best: dict[str, tuple[int, str]] = {}
        _strongest(best, known)  # each already the strongest of its name
        _strongest(best, added)
        known = tuple(sorted(key for _, key in best.values()))
    after.__dict__[_ALERT_KEYS] = known
    return known


def key_label(key: str) -> str:
    """A person's name for a pattern key: `HighLatency (service checkout)`, `service checkout`."""
    kind, _, value = key.partition("=")
    if kind == SERVICE_KIND:
        return f"service {value}"
    name, _, scope = value.partition("/")
    scope_kind = kind.partition("+")[2]
    return f"{name} ({scope_kind} {scope})" if scope and scope_kind else name


def _first_time(state: IncidentState, statuses: Iterable[Status]) -> datetime | None:
    times = [datetime.fromisoformat(state.status_times[s.value]) for s in statuses if s.value in state.status_times]
    return min(times) if times else None


def postmortem_of(state: IncidentState) -> PostmortemRef | None:
    """The incident's postmortem once approved, with its action items (status open until a tracker says)."""
    status = status_of(state)
    if status not in LOCKED:
        return None
    items = tuple(ActionItem(incident_id=state.incident_id, item_id=str(i.get("id") or f"ai-{n + 1}"),
                             title=str(i.get("title", "")), owner=str(i.get("owner") or ""))
                  for n, i in enumerate(state.postmortem.action_items))
    assert status is not None
    return PostmortemRef(incident_id=state.incident_id, human_id=state.human_id, status=status.value,
                         path=knowledge_path(state), action_items=items)


def resolved_at(state: IncidentState) -> datetime | None:
    """When the incident was first resolved (or closed); None while it never was."""
    return _first_time(state, [Status.RESOLVED, Status.CLOSED])


def past_incident(state: IncidentState) -> PastIncident:
    """The facts of one incident, from its state alone."""
    acked = None
    if Status.TRIGGERED.value in state.status_times:
        acked = _first_time(state, [s for s in Status if s is not Status.TRIGGERED])
    return PastIncident(
        incident_id=state.incident_id, human_id=state.human_id, project_id=state.project_id, title=state.title,
        severity=state.severity, opened_at=state.created_at, acknowledged_at=acked,
        resolved_at=resolved_at(state), services=tuple(state.services),
        alert_keys=alert_keys(state.correlation_keys), postmortem=postmortem_of(state))


def _keys(alerts: Iterable[str], services: Iterable[str]) -> tuple[str, ...]:
    return (*alerts, *(f"{SERVICE_KIND}={s}" for s in services))


def pattern_keys(incident: PastIncident) -> tuple[str, ...]:
    """The keys an incident groups by: its alert keys, then one `service=` key per service."""
    return _keys(incident.alert_keys, incident.services)


def keys_signature(keys: Iterable[str]) -> str:
    """A short digest of a set of pattern keys; empty for none (what a recurrence check was done for)."""
    ordered = sorted(keys)
    return hashlib.sha256("|".join(ordered).encode()).hexdigest()[:16] if ordered else ""


DEFAULT_WINDOW_DAYS = 30


def check_mark(signature: str, window_days: int = DEFAULT_WINDOW_DAYS) -> str:
    """What a recurrence check of keys with this signature is remembered as: the signature itself for the
    default window, else a digest of both (an org that changes `recurrence_days` has its incidents checked again)."""
    if not signature or window_days == DEFAULT_WINDOW_DAYS:
        return signature
    return keys_signature((signature, f"window={window_days}"))


def told_mark(signature: str, window_days: int = DEFAULT_WINDOW_DAYS) -> str:
    """What a resolved incident's keys are remembered as once the open incidents sharing them were rechecked
    (never equal to `check_mark`: a reopened incident is still checked for its own match)."""
    return keys_signature((check_mark(signature, window_days), "told later incidents")) if signature else ""


# One index row's (signature, checked) for an incident: what its keys are and what was last done for them; None
# when the incident has no pattern keys (no rows).
PatternMarks = tuple[str, str | None] | None


def marks_unchecked(marks: PatternMarks, window_days: int = DEFAULT_WINDOW_DAYS) -> bool:
    """False only when the index holds the incident's keys and they were already checked with this window."""
    return marks is None or marks[1] != check_mark(marks[0], window_days)


def marks_untold(marks: PatternMarks, window_days: int = DEFAULT_WINDOW_DAYS) -> bool:
    """True when a (resolved) incident has pattern keys the open incidents sharing them were not yet rechecked
    for, with this window."""
    return marks is not None and bool(marks[0]) and marks[1] != told_mark(marks[0], window_days)


def state_pattern_keys(state: IncidentState) -> tuple[str, ...]:
    """`pattern_keys(past_incident(state))`, without building the rest of the facts (the index writes it)."""
    return _keys(state_alert_keys(state), state.services)


def _mean(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return fmean(present) if present else None


@dataclass(frozen=True)
class Pattern:
    """Incidents sharing one key in a period, with what they cost and what was learned."""

    key: str
    incidents: tuple[PastIncident, ...]  # oldest first

    @property
    def kind(self) -> str:
        return SERVICE_KIND if self.key.startswith(f"{SERVICE_KIND}=") else "alert"

    @property
    def label(self) -> str:
        return key_label(self.key)

    @property
    def service(self) -> str | None:
        if self.kind == SERVICE_KIND:
            return self.key.partition("=")[2]
        scoped = self.key.partition("=")[0] == f"{ALERT_KIND}+{SERVICE_KIND}"
        return self.key.partition("=")[2].partition("/")[2] if scoped else None

    @property
    def count(self) -> int:
        return len(self.incidents)

    @property
    def last_at(self) -> datetime:
        return max(i.opened_at for i in self.incidents)

    @property
    def mtta_seconds(self) -> float | None:
        return _mean(i.time_to_acknowledge for i in self.incidents)

    @property
    def mttr_seconds(self) -> float | None:
        return _mean(i.time_to_resolve for i in self.incidents)

    @property
    def severities(self) -> dict[str, int]:
        counts = Counter(i.severity.value for i in self.incidents)
        return {s.value: counts[s.value] for s in Severity if counts[s.value]}

    @property
    def postmortems(self) -> tuple[PostmortemRef, ...]:
        return tuple(i.postmortem for i in self.incidents if i.postmortem is not None)

    @property
    def action_items(self) -> tuple[ActionItem, ...]:
        return tuple(item for pm in self.postmortems for item in pm.action_items)

    def items_with(self, status: str) -> int:
        """How many of the postmortems' action items have this status."""
        return sum(1 for item in self.action_items if item.status == status)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape `revenant insights --json` and the MCP tool print."""
        return {
            "kind": self.kind, "key": self.key, "label": self.label, "service": self.service,
            "count": self.count, "incidents": [i.human_id for i in self.incidents],
            "last_occurred_at": self.last_at.isoformat(),
            "mtta_seconds": _rounded(self.mtta_seconds), "mttr_seconds": _rounded(self.mttr_seconds),
            "severities": self.severities,
            "postmortems": [{"incident": pm.human_id, "status": pm.status, "path": pm.path,
                             "action_items": [{"id": a.item_id, "title": a.title, "owner": a.owner,
                                               "status": a.status, "tracker_ref": a.tracker_ref}
                                              for a in pm.action_items]} for pm in self.postmortems],
            "action_items_open": self.items_with(ITEM_OPEN), "action_items_done": self.items_with(ITEM_DONE),
        }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def group(incidents: Iterable[PastIncident], *, service: str | None = None) -> dict[str, list[PastIncident]]:
    """Incidents by pattern key (an incident appears under each of its keys), oldest first in each."""
    out: dict[str, list[PastIncident]] = {}
    for incident in sorted(incidents, key=lambda i: (i.opened_at, i.human_id)):
        if service is not None and service not in incident.services:
            continue
        for key in pattern_keys(incident):
            out.setdefault(key, []).append(incident)
    return out


def find_patterns(incidents: Iterable[PastIncident], *, service: str | None = None,
                  min_count: int = 2) -> list[Pattern]:
    """Every key shared by at least `min_count` incidents: most frequent first, then most recent.

    A service pattern holding exactly the incidents of one of its alert patterns is left out: the alert is
    the strongest key they share, and the report would otherwise say the same thing twice.
    """
    grouped = group(incidents, service=service)
    alert_sets = {frozenset(i.incident_id for i in items) for key, items in grouped.items()
                  if not key.startswith(f"{SERVICE_KIND}=")}
    found = [Pattern(key, tuple(items)) for key, items in grouped.items() if len(items) >= min_count and not (
        key.startswith(f"{SERVICE_KIND}=") and frozenset(i.incident_id for i in items) in alert_sets)]
    found.sort(key=lambda p: (-p.count, -p.last_at.timestamp(), p.key))
    return found


def with_statuses(incidents: Sequence[PastIncident], statuses: dict[tuple[str, str], tuple[str, str]]
                  ) -> list[PastIncident]:
    """The incidents with each action item's (status, tracker ref) filled in where the tracker knew it."""
    def item(a: ActionItem) -> ActionItem:
        found = statuses.get((a.incident_id, a.item_id))
        return replace(a, status=found[0], tracker_ref=found[1]) if found else a

    out = []
    for i in incidents:
        pm = i.postmortem
        out.append(i if pm is None else replace(i, postmortem=replace(
            pm, action_items=tuple(item(a) for a in pm.action_items))))
    return out


@dataclass(frozen=True)
class PatternReport:
    """The answer to "what keeps happening": the period, how many incidents it held, and the patterns."""

    since: datetime
    until: datetime
    incidents: int
    patterns: tuple[Pattern, ...] = field(default_factory=tuple)
    service: str | None = None
    project: str | None = None

    @property
    def days(self) -> int:
        return round((self.until - self.since).total_seconds() / 86400)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of the whole report."""
        return {"since": self.since.isoformat(), "until": self.until.isoformat(), "days": self.days,
                "project": self.project, "service": self.service, "incidents": self.incidents,
                "patterns": [p.to_dict() for p in self.patterns]}
