"""The weekly digest a delivery posts: the scope (org, or one project) and the schedule it was fired by."""

from __future__ import annotations

from datetime import datetime

from incident_core.errors import NotFound
from incident_core.history import ActionItemTracker, IncidentHistory
from incident_core.insights import Digest, DigestSchedule, digest_week
from incident_core.insights_usecases import weekly_digest
from incident_core.ports import Directory


def digest_for(*, directory: Directory, history: IncidentHistory, tracker: ActionItemTracker | None, org_id: str,
               project_id: str | None, slot: datetime) -> tuple[Digest, DigestSchedule]:
    """The digest of the slot's week and the schedule (channels) it goes by; LookupError when its scope no
    longer has a digest configured (the delivery is dropped)."""
    org = directory.org(org_id)
    if org is None:
        raise NotFound(f"no org {org_id!r}")
    project = directory.project(org_id, project_id) if project_id else None
    settings = project.settings if project is not None else org.settings
    schedule = DigestSchedule.from_settings((settings.get("insights") or {}).get("digest"))
    if schedule is None:
        raise LookupError("the digest is no longer configured")
    scope = f"{org.name} / {project.name}" if project is not None else org.name
    digest = weekly_digest(history=history, tracker=tracker, org_id=org_id, scope=scope, week=digest_week(slot),
                           weeks=schedule.weeks, project_id=project_id)
    return digest, schedule
