"""Ports for looking back: past incidents (storage) and the status of postmortem action items (a tracker)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from incident_core.patterns import PostmortemRef
from incident_core.state import IncidentState

# (incident id, action item id) → (status "open" | "done", the tracker's reference such as a Jira key)
ItemStatuses = dict[tuple[str, str], tuple[str, str]]


class IncidentHistory(Protocol):
    """Read side over the incident projection, always scoped by org."""

    def opened_since(self, org_id: str, since: datetime, *, until: datetime | None = None,
                     project_id: str | None = None) -> list[IncidentState]:
        """Incidents opened in [since, until) (every project unless `project_id`), oldest first."""
        ...

    def sharing_keys(self, org_id: str, keys: Sequence[str], *, project_id: str | None,
                     since: datetime) -> list[IncidentState]:
        """Incidents of exactly this project (None: no project) holding any of `keys`, opened since `since`."""
        ...

    # The pattern-key index (written with the events): recurrence checks without loading states.
    def recurrence_unchecked(self, org_id: str, incident_id: str, window_days: int = 30) -> bool:
        """False only when the incident's current pattern keys were already checked with this window."""
        ...

    def pattern_counts(self, org_id: str, keys: Sequence[str], *, project_id: str | None, since: datetime,
                       resolved_by: datetime, exclude: str) -> dict[str, int]:
        """Per key, the incidents of exactly this project other than `exclude`, opened since `since` and
        resolved by `resolved_by`, holding it as a pattern key (keys without any are absent)."""
        ...

    def mark_recurrence_checked(self, org_id: str, incident_id: str, signature: str, window_days: int = 30) -> None:
        """Remember that the incident's pattern keys with this signature were checked with this window."""
        ...

    def open_sharing(self, org_id: str, incident_id: str, limit: int = 100, *,
                     opened_since: datetime | None = None) -> list[str]:
        """Open incidents (ids) other than this one holding any of its pattern keys, at most `limit` (with
        `opened_since`, only those opened since then)."""
        ...

    def later_untold(self, org_id: str, incident_id: str, window_days: int = 30) -> bool:
        """True when the open incidents sharing this (resolved) incident's current pattern keys were not yet
        rechecked for them with this window."""
        ...

    def mark_later_told(self, org_id: str, incident_id: str, signature: str, window_days: int = 30) -> None:
        """Remember that the open incidents sharing the incident's keys with this signature were rechecked."""
        ...


class ActionItemTracker(Protocol):
    """Where action items are tracked (Jira); items it cannot read are simply absent from the answer."""

    def statuses(self, org_id: str, postmortems: Sequence[PostmortemRef]) -> ItemStatuses: ...
