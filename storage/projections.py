"""Rebuild the incident projection by replaying every event, org by org."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from incident_core.events import is_incident_stream
from incident_core.state import IncidentState, apply
from storage.append_rules import LOGS, POINTS, RECENT
from storage.engine import scope_to_org
from storage.pattern_index import PATTERNS, REPLAYED, checked_marks, rebuilt_rows
from storage.records import incident_row, row_event
from storage.signal_projection import KEYS, ROOMS, SIGNALS, keys_rows, project_rooms, project_signals
from storage.signal_tail import SignalTail, tail_of
from storage.signal_tail_writes import project_tail
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
            marks = checked_marks(conn, org_id)  # the recurrence watcher's marks survive unchanged keys
            for table in (KEYS, SIGNALS, ROOMS, RECENT, POINTS, LOGS, PATTERNS, INCIDENTS):
                conn.execute(table.delete().where(table.c.org_id == org_id))
            states: dict[str, IncidentState] = {}
            tails: dict[str, SignalTail] = {}  # each incident's tail, replayed append by append
            stmt = sa.select(EVENTS).where(EVENTS.c.org_id == org_id).order_by(EVENTS.c.position)
            for row in conn.execute(stmt.execution_options(yield_per=2000)):
                event = row_event(row)
                if is_incident_stream(event.incident_id):
                    state = states[event.incident_id] = apply(states.get(event.incident_id), event)
                    tail = tail_of(state, [event])
                    if event.incident_id in tails:
                        tails[event.incident_id].absorb(tail)
                    else:
                        tails[event.incident_id] = tail
                project_signals(conn, [event])
                project_rooms(conn, [event])
                total_events += 1
                if progress and total_events % 1000 == 0:
                    progress(1000)
            if states:
                conn.execute(INCIDENTS.insert(), [incident_row(s) for s in states.values()])
                keys = [row for s in states.values() for row in keys_rows(s)]
                if keys:
                    conn.execute(KEYS.insert(), keys)
                patterns = rebuilt_rows(list(states.values()), marks)
                if patterns:
                    conn.execute(PATTERNS.insert(), patterns)
                for tail in tails.values():
                    project_tail(conn, SignalTail(incident_id=tail.incident_id, recent=tail.recent,
                                                  points=tail.points, logs=tail.logs))
            top = max((s.number for s in states.values()), default=0)
            conn.execute(ORGS.update().where(ORGS.c.id == org_id, ORGS.c.incident_seq < top)
                         .values(incident_seq=top))
            total_incidents += len(states)
    if progress:
        progress(total_events % 1000)
    return RebuildReport(orgs=len(org_ids), incidents=total_incidents, events=total_events)


def snapshot(engine: Engine, org_id: str) -> dict[str, list[dict]]:
    """Every projection row of an org, for comparing before and after a rebuild."""
    out = {}
    with engine.begin() as conn:
        scope_to_org(conn, org_id)
        for table in (INCIDENTS, KEYS, SIGNALS, ROOMS, RECENT, POINTS, LOGS, PATTERNS):
            columns = REPLAYED if table is PATTERNS else list(table.c)  # not the watcher's `checked` mark
            rows = conn.execute(sa.select(*columns).where(table.c.org_id == org_id)
                                .order_by(*table.primary_key.columns))
            out[table.name] = [dict(r._mapping) for r in rows]
    return out
