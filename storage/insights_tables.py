"""Insight tables: the recorded steps of multi-step deliveries (a tenant table, migration 0008_i17)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from storage.tables import TZ, JSONType

INSIGHTS_TENANT_TABLES = ("delivery_steps",)


class DeliveryStepRow(SQLModel, table=True):
    """One step of a delivery done (`step` such as "uploaded"), with what a retry needs (a file id)."""

    __tablename__ = "delivery_steps"
    org_id: str = Field(foreign_key="organizations.id", primary_key=True, max_length=64)
    key: str = Field(primary_key=True, max_length=200)
    step: str = Field(primary_key=True, max_length=40)
    value: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    recorded_at: datetime = Field(sa_type=TZ)
