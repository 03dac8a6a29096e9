"""The reminder index: when each incident next needs the reminder tick (a tenant table, migration 0009_i15ob).

A trigger on `incidents` keeps it: every change sets the incident due at its `updated_at`.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from storage.tables import TZ

REMINDER_TENANT_TABLES = ("reminder_due",)
LOOK_NOW = datetime(2000, 1, 1, tzinfo=UTC)  # a due time before any tick: "look at it on the next one"


class ReminderDueRow(SQLModel, table=True):
    """One incident's next look by the reminder tick."""

    __tablename__ = "reminder_due"
    __table_args__ = (sa.Index("ix_reminder_due_at", "due_at"),)
    org_id: str = Field(foreign_key="organizations.id", primary_key=True, max_length=64)
    incident_id: str = Field(primary_key=True, max_length=64)
    due_at: datetime = Field(sa_type=TZ)
    seq: int = Field(default=0)  # bumped by every change of the incident


REMINDER_DUE = ReminderDueRow.__table__  # type: ignore[attr-defined]
