"""Recurrence policy: when an open incident's pattern keys change, look for its pattern among earlier
incidents of its project (within the org's window) and record a match; rooms open with that line."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from incident_core.history import ActionItemTracker, IncidentHistory
from incident_core.ports import IncidentQueries
from incident_core.recurrence import DEFAULT_WINDOW, note_recurrence, recheck_later_incidents
from incident_core.services.messages import Message, incident_of
from incident_core.services.rooms import RECURRENCE_WATCHER
from incident_core.usecases import Deps

log = logging.getLogger("revenant.insights")


def recurrence_window(org_settings: Mapping[str, Any] | None) -> timedelta:
    """The org's `insights: recurrence_days:` (default 30 days)."""
    days = ((org_settings or {}).get("insights") or {}).get("recurrence_days")
    return timedelta(days=int(days)) if days else DEFAULT_WINDOW


class RecurrenceWatcher:
    """incident.changed → record a recurrence match (best effort, like guidance: the next change retries)."""

    subscriber_name = RECURRENCE_WATCHER

    def __init__(self, *, deps: Deps, queries: IncidentQueries, history: IncidentHistory,
                 tracker_for: Callable[[str], ActionItemTracker | None]) -> None:
        self.deps, self.queries, self.history, self.tracker_for = deps, queries, history, tracker_for

    def __call__(self, msg: Message) -> None:
        try:
            org = self.deps.directory.org(msg.org_id)
            tracker, window = self.tracker_for(msg.org_id), recurrence_window(org.settings if org else None)
            note_recurrence(deps=self.deps, queries=self.queries, history=self.history, tracker=tracker,
                            org_id=msg.org_id, incident_id=incident_of(msg), window=window)
            # a resolved incident's approved postmortem reaches the open incidents whose match names it
            recheck_later_incidents(deps=self.deps, queries=self.queries, history=self.history, tracker=tracker,
                                    org_id=msg.org_id, incident_id=incident_of(msg), window=window)
        except Exception:  # noqa: BLE001 — must not hold back the room refresh
            log.exception("recurrence check of incident %s (org %s) failed", msg.payload.get("incident_id"),
                          msg.org_id)
