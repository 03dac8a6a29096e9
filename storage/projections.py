"""Rebuild the incident projection by replaying every event, org by org."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from incident_core.state import IncidentState, apply
from storage.engine import scope_to_org
from storage.records import incident_row, row_event
from storage.unit_of_work import EVENTS, INCIDENTS, ORGS


@dataclass(frozen=True)
class RebuildReport:
    orgs: int
    incidents: int
    events: int


def rebuild(engine: Engine, *, org_ids: list[str] | None = None,
            progress: Callable[[int], None] | None = None) -> RebuildReport:
    """Delete and recompute each org's incident rows from its events, in one transaction per org."""
    if org_ids is None:
        with engine.begin() as conn:
            org_ids = [r.id for r in conn.execute(sa.select(ORGS.c.id).order_by(ORGS.c.id))]
    total_incidents = total_events = 0
    for org_id in org_ids:
        with engine.begin() as conn:
            scope_to_org(conn, org_id)
            conn.execute(INCIDENTS.delete().where(INCIDENTS.c.org_id == org_id))
            states: dict[str, IncidentState] = {}
            stmt = sa.select(EVENTS).where(EVENTS.c.org_id == org_id).order_by(EVENTS.c.position)
            for row in conn.execution_options(yield_per=2000).execute(stmt):
                event = row_event(row)
                states[event.incident_id] = apply(states.get(event.incident_id), event)
                total_events += 1
                if progress and total_events % 1000 == 0:
                    progress(1000)
            if states:
                conn.execute(INCIDENTS.insert(), [incident_row(s) for s in states.values()])
            top = max((s.number for s in states.values()), default=0)
            conn.execute(ORGS.update().where(ORGS.c.id == org_id, ORGS.c.incident_seq < top)
                         .values(incident_seq=top))
            total_incidents += len(states)
    if progress:
        progress(total_events % 1000)
    return RebuildReport(orgs=len(org_ids), incidents=total_incidents, events=total_events)


def snapshot(engine: Engine, org_id: str) -> list[dict]:
    """Every projection row of an org, for comparing before and after a rebuild."""
    with engine.begin() as conn:
        scope_to_org(conn, org_id)
        rows = conn.execute(sa.select(INCIDENTS).where(INCIDENTS.c.org_id == org_id).order_by(INCIDENTS.c.id))
        return [dict(r._mapping) for r in rows]
