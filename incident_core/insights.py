"""Insights: incidents per week by service, the MTTR trend, and the weekly digest built from them.

Weeks are ISO weeks (Monday 00:00 UTC). An incident counts in the week it opened; a week's MTTR is
the mean time to resolve of the incidents opened that week that are resolved. Everything is computed
from `PastIncident` facts, so the numbers replay from the events.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from statistics import fmean
from typing import Any

from incident_core.errors import ValidationError
from incident_core.patterns import ITEM_OPEN, PastIncident, Pattern

NO_SERVICE = "(no service)"
OTHER = "other"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_PERIOD = re.compile(r"^(\d{1,3})\s*([dw])$", re.IGNORECASE)
MAX_PERIOD_DAYS = 366


def parse_period(text: str) -> timedelta:
    """`30d`, `90d` or `12w` → a timedelta of 1–366 days; ValidationError otherwise."""
    match = _PERIOD.match((text or "").strip())
    if not match:
        raise ValidationError(f"period must look like 30d, 90d or 12w (got {text[:20]!r})")
    days = int(match.group(1)) * (7 if match.group(2).lower() == "w" else 1)
    if not 1 <= days <= MAX_PERIOD_DAYS:
        raise ValidationError(f"period must be between 1 and {MAX_PERIOD_DAYS} days (got {days})")
    return timedelta(days=days)


def week_start(moment: datetime | date) -> date:
    """The Monday of the ISO week holding `moment` (UTC)."""
    day = moment.astimezone(UTC).date() if isinstance(moment, datetime) else moment
    return day - timedelta(days=day.weekday())


def at_midnight(day: date) -> datetime:
    """00:00 UTC of a day."""
    return datetime.combine(day, time(0, tzinfo=UTC))


def primary_service(incident: PastIncident) -> str:
    """The service an incident is charted under: its first service."""
    return incident.services[0] if incident.services else NO_SERVICE


@dataclass(frozen=True)
class WeekBucket:
    """One week of the chart."""

    start: date
    counts: dict[str, int]
    mttr_seconds: float | None

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class WeeklySeries:
    """Incidents per week by service (the top services, the rest as "other") and the MTTR per week."""

    weeks: tuple[WeekBucket, ...]
    services: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON shape: one object per week."""
        return {"services": list(self.services), "weeks": [
            {"week_start": w.start.isoformat(), "counts": w.counts, "total": w.total,
             "mttr_seconds": None if w.mttr_seconds is None else round(w.mttr_seconds, 1)} for w in self.weeks]}


def weekly_series(incidents: Iterable[PastIncident], *, last_week: date, weeks: int = 8,
                  top: int = 6) -> WeeklySeries:
    """`weeks` ISO weeks ending with the one starting `last_week`."""
    starts = [week_start(last_week) - timedelta(weeks=n) for n in range(weeks - 1, -1, -1)]
    by_week: dict[date, list[PastIncident]] = {s: [] for s in starts}
    for incident in incidents:
        bucket = by_week.get(week_start(incident.opened_at))
        if bucket is not None:
            bucket.append(incident)
    totals = Counter(primary_service(i) for items in by_week.values() for i in items)
    kept = [s for s, _ in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))]
    shown = tuple(kept[:top]) if len(kept) <= top else (*kept[:top - 1], OTHER)
    buckets = []
    for start in starts:
        counts = Counter(primary_service(i) if primary_service(i) in shown else OTHER for i in by_week[start])
        resolved = [i.time_to_resolve for i in by_week[start] if i.time_to_resolve is not None]
        buckets.append(WeekBucket(start=start, counts={s: counts[s] for s in shown if counts[s]},
                                  mttr_seconds=fmean(resolved) if resolved else None))
    return WeeklySeries(weeks=tuple(buckets), services=shown)


@dataclass(frozen=True)
class Digest:
    """The weekly digest: last week against the week before, the top patterns, and the chart's series."""

    scope: str  # the org's (and project's) name
    week: date  # Monday of the week it covers
    series: WeeklySeries
    patterns: tuple[Pattern, ...] = field(default_factory=tuple)

    @property
    def this_week(self) -> WeekBucket:
        return self.series.weeks[-1]

    @property
    def previous_week(self) -> WeekBucket | None:
        return self.series.weeks[-2] if len(self.series.weeks) > 1 else None

    @property
    def open_items(self) -> int:
        return sum(1 for p in self.patterns for a in p.action_items if a.status == ITEM_OPEN)

    def to_dict(self) -> dict[str, Any]:
        """JSON shape."""
        return {"scope": self.scope, "week_start": self.week.isoformat(), "series": self.series.to_dict(),
                "patterns": [p.to_dict() for p in self.patterns]}


def digest_week(now: datetime) -> date:
    """The last complete week before `now` (a digest on Monday covers Monday to Sunday before it)."""
    return week_start(now) - timedelta(weeks=1)


@dataclass(frozen=True)
class DigestSchedule:
    """Where and when the weekly digest goes (`insights: digest:` in org or project settings)."""

    slack_channel: str | None = None
    teams_channel: str | None = None
    weekday: int = 0  # Monday
    hour: int = 9  # UTC
    weeks: int = 8

    @classmethod
    def from_settings(cls, raw: Any) -> DigestSchedule | None:
        """The schedule, or None when no channel is configured; ValidationError on bad values."""
        if not raw:
            return None
        if not isinstance(raw, dict):
            raise ValidationError("insights.digest must be a mapping (slack_channel, teams_channel, weekday, hour)")
        day = str(raw.get("weekday", "mon")).strip().lower()[:3]
        if day not in WEEKDAYS:
            raise ValidationError(f"insights.digest.weekday must be one of {', '.join(WEEKDAYS)}")
        try:
            hour, weeks = int(raw.get("hour", 9)), int(raw.get("weeks", 8))
        except (TypeError, ValueError):
            raise ValidationError("insights.digest.hour and weeks must be whole numbers") from None
        if not 0 <= hour <= 23 or not 2 <= weeks <= 26:
            raise ValidationError("insights.digest.hour must be 0–23 and weeks 2–26")
        slack, teams = raw.get("slack_channel"), raw.get("teams_channel")
        if not slack and not teams:
            return None
        return cls(slack_channel=str(slack) if slack else None, teams_channel=str(teams) if teams else None,
                   weekday=WEEKDAYS.index(day), hour=hour, weeks=weeks)

    def platforms(self) -> list[str]:
        """The platforms this digest is posted to."""
        return [p for p, c in (("slack", self.slack_channel), ("teams", self.teams_channel)) if c]

    def slot(self, now: datetime) -> datetime:
        """The latest scheduled moment at or before `now`."""
        moment = at_midnight(week_start(now) + timedelta(days=self.weekday)) + timedelta(hours=self.hour)
        return moment if moment <= now else moment - timedelta(weeks=1)


def build_digest(incidents: Sequence[PastIncident], patterns: Sequence[Pattern], *, scope: str, week: date,
                 weeks: int = 8) -> Digest:
    """The digest of the week starting `week` (incidents: at least the `weeks` weeks up to it)."""
    return Digest(scope=scope, week=week, series=weekly_series(incidents, last_week=week, weeks=weeks),
                  patterns=tuple(patterns[:3]))
