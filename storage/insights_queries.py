"""Read side of insights: incidents opened in a period, and past incidents sharing pattern keys."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from incident_core.state import IncidentState
from storage.engine import scope_to_org
from storage.pattern_index import SqlPatternIndex
from storage.signal_projection import KEYS
from storage.state_read import row_state, state_columns
from storage.unit_of_work import INCIDENTS

MAX_INCIDENTS = 20_000  # a year of a busy org; the report says how many it read


class SqlIncidentHistory(SqlPatternIndex):
    """IncidentHistory over the incident projection and the pattern-key index (storage/pattern_index.py);
    every statement filters on org_id (RLS is the second wall)."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)

    def opened_since(self, org_id: str, since: datetime, *, until: datetime | None = None,
                     project_id: str | None = None) -> list[IncidentState]:
        """Incidents opened in [since, until), oldest first (index ix_incidents_org_created)."""
        stmt = sa.select(*state_columns()).where(INCIDENTS.c.org_id == org_id, INCIDENTS.c.created_at >= since)
        if until is not None:
            stmt = stmt.where(INCIDENTS.c.created_at < until)
        if project_id is not None:
            stmt = stmt.where(INCIDENTS.c.project_id == project_id)
        stmt = stmt.order_by(INCIDENTS.c.created_at, INCIDENTS.c.number).limit(MAX_INCIDENTS)
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            return [row_state(r) for r in conn.execute(stmt)]

    def sharing_keys(self, org_id: str, keys: Sequence[str], *, project_id: str | None,
                     since: datetime) -> list[IncidentState]:
        """Incidents of exactly this project holding any of `keys` (ix_incident_keys_recent, its (org_id, key) prefix)."""
        if not keys:
            return []
        holders = sa.select(KEYS.c.incident_id).where(
            KEYS.c.org_id == org_id, KEYS.c.key.in_([k[:300] for k in keys]),
            KEYS.c.project_id == project_id if project_id else KEYS.c.project_id.is_(None)).distinct()
        stmt = (sa.select(*state_columns())
                .where(INCIDENTS.c.org_id == org_id, INCIDENTS.c.created_at >= since,
                       INCIDENTS.c.id.in_(holders.scalar_subquery()))
                .order_by(INCIDENTS.c.created_at).limit(MAX_INCIDENTS))
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            return [row_state(r) for r in conn.execute(stmt)]
