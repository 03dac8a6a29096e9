"""Read side: incidents and timelines, always scoped by org."""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from incident_core.events import Event
from incident_core.model import Status
from incident_core.state import IncidentState
from storage.engine import is_postgres, scope_to_org
from storage.pg_append import load_state
from storage.pg_scoped import driver_errors
from storage.records import row_event
from storage.signal_projection import ROOMS
from storage.state_read import assemble, row_state, state_columns
from storage.unit_of_work import EVENTS, INCIDENTS

_HUMAN_ID = re.compile(r"^(?:inc-?)?(\d+)$", re.IGNORECASE)
_OPEN = [s.value for s in Status if s.is_open]
# Built once (not per read): the state with its signal tail, by id or by number.
_BY_ID = sa.select(*state_columns()).where(INCIDENTS.c.org_id == sa.bindparam("org"),
                                           INCIDENTS.c.id == sa.bindparam("id"))
_BY_NUMBER = sa.select(*state_columns()).where(INCIDENTS.c.org_id == sa.bindparam("org"),
                                               INCIDENTS.c.number == sa.bindparam("number"))


class SqlIncidentQueries:
    """IncidentQueries over SQL; every statement filters on org_id (RLS is the second wall)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._pg = is_postgres(engine)

    def get(self, org_id: str, ref: str) -> IncidentState | None:
        """By id, INC-42, inc42 or 42."""
        ref = ref.strip()
        match = _HUMAN_ID.match(ref)
        if match is None and self._pg:  # by id, the delivery path: bind the org and read in one round trip
            with driver_errors(), self.engine.begin() as conn:
                data = load_state(conn.connection.dbapi_connection, org_id=org_id, incident_id=ref)
            return assemble(*data) if data is not None else None
        stmt, params = (_BY_NUMBER, {"org": org_id, "number": int(match.group(1))}) if match else \
            (_BY_ID, {"org": org_id, "id": ref})
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            row = conn.execute(stmt, params).first()
        return row_state(row) if row else None

    def list_incidents(self, org_id: str, *, open_only: bool = False, limit: int = 100) -> list[IncidentState]:
        stmt = sa.select(*state_columns()).where(INCIDENTS.c.org_id == org_id)
        if open_only:
            stmt = stmt.where(INCIDENTS.c.status.in_(_OPEN))
        stmt = stmt.order_by(INCIDENTS.c.number.desc()).limit(limit)
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            return [row_state(r) for r in conn.execute(stmt)]

    def timeline(self, org_id: str, incident_id: str) -> list[Event]:
        stmt = (sa.select(EVENTS).where(EVENTS.c.org_id == org_id, EVENTS.c.stream_id == incident_id)
                .order_by(EVENTS.c.stream_version))
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            return [row_event(r) for r in conn.execute(stmt)]

    def by_room(self, org_id: str, platform: str, room_id: str) -> IncidentState | None:
        """The incident whose chat room this is, within this org only."""
        stmt = (sa.select(*state_columns()).join(ROOMS, ROOMS.c.incident_id == INCIDENTS.c.id)
                .where(ROOMS.c.org_id == org_id, ROOMS.c.platform == platform, ROOMS.c.room_id == room_id,
                       INCIDENTS.c.org_id == org_id))
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            row = conn.execute(stmt).first()
        return row_state(row) if row else None
