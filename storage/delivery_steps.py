"""Recorded steps of multi-step deliveries: a retry after a partial failure resumes where the last one stopped."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from storage.engine import is_postgres, scope_to_org
from storage.insights_tables import DeliveryStepRow

STEPS = DeliveryStepRow.__table__  # type: ignore[attr-defined]


class SqlDeliverySteps:
    """Steps by (org, delivery key); the first record of a step wins (a racing retry keeps the first value)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def steps(self, org_id: str, key: str) -> dict[str, dict[str, Any]]:
        """Every recorded step of one delivery: step name → its value."""
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            rows = conn.execute(sa.select(STEPS.c.step, STEPS.c.value).where(
                STEPS.c.org_id == org_id, STEPS.c.key == key))
            return {r.step: dict(r.value or {}) for r in rows}

    def record(self, org_id: str, key: str, step: str, value: dict[str, Any]) -> dict[str, Any]:
        """Record a step unless recorded before; returns the value that stands."""
        row = {"org_id": org_id, "key": key[:200], "step": step, "value": value, "recorded_at": datetime.now(UTC)}
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            insert = postgresql.insert(STEPS) if is_postgres(conn) else sqlite.insert(STEPS)
            conn.execute(insert.values(row).on_conflict_do_nothing(index_elements=["org_id", "key", "step"]))
            stored = conn.execute(sa.select(STEPS.c.value).where(
                STEPS.c.org_id == org_id, STEPS.c.key == key[:200], STEPS.c.step == step)).scalar_one()
            return dict(stored)
