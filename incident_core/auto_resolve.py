"""The optional per-project `auto_resolve_after`: an incident all clear for that long resolves itself."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from incident_core.all_clear import auto_resolve_due
from incident_core.errors import IncidentError
from incident_core.org_settings import OrgSettings
from incident_core.routing import load_routing
from incident_core.state import IncidentState
from incident_core.usecases import Deps, apply_command

AfterFor = Callable[[IncidentState], timedelta | None]  # an incident's auto_resolve_after (None: off)


def auto_resolve(*, deps: Deps, states: Iterable[IncidentState], now: datetime, after_for: AfterFor) -> list[str]:
    """Resolve every incident whose project's delay has passed since its all clear; their human ids.

    The idempotency key names the all-clear moment, so however many processes tick, it resolves once.
    """
    done = []
    for state in states:
        command = auto_resolve_due(state, now, after_for(state))
        if command is None:
            continue
        try:
            apply_command(deps=deps, command=command, check_role=False,
                          idempotency_key=f"auto-resolve:{state.incident_id}:{state.all_clear_at}")
        except IncidentError:
            continue  # someone moved it meanwhile: their decision stands
        done.append(state.human_id)
    return done


def delays_by_project(settings: OrgSettings, project_names: dict[str, str]) -> AfterFor:
    """The org's `auto_resolve_after_minutes` per project (routing config), looked up by project id."""
    raw = settings.routing
    config = load_routing(raw) if raw else None

    def after_for(state: IncidentState) -> timedelta | None:
        name = project_names.get(state.project_id or "")
        return config.policy_for(name).auto_resolve_after if config and name else None

    return after_for
