"""Where an incident's Teams thread opens: the first channel that applies (docs/teams.md, Rooms)."""

from __future__ import annotations

from datetime import timedelta

from handlers.teams.references import ConversationStore
from incident_core.ports import Directory
from incident_core.state import IncidentState

ORIGIN_WINDOW = timedelta(minutes=10)  # a declaration's channel counts for an incident made this soon after


def incident_channel(*, directory: Directory, store: ConversationStore, org_id: str,
                     state: IncidentState) -> str | None:
    """The project's `teams_channel`, else the org's `teams.incident_channel`, else the channel the incident
    was declared from in Teams (within ORIGIN_WINDOW); None when none is configured or known."""
    project = directory.project(org_id, state.project_id) if state.project_id else None
    if project is not None and project.settings.get("teams_channel"):
        return str(project.settings["teams_channel"])
    org = directory.org(org_id)
    teams = (org.settings if org else {}).get("teams")
    configured = teams.get("incident_channel") if isinstance(teams, dict) else None
    if configured:
        return str(configured)
    origin = store.declare_origin(org_id, state.declared_by) if state.declared_by else None
    if origin is not None and abs(origin[1] - state.created_at) <= ORIGIN_WINDOW:
        return origin[0]
    return None
