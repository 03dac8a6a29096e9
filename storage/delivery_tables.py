"""Delivery tables (tenant tables): the recorded steps of multi-step deliveries (migration 0008_i17) and
who holds each delivery right now (migration 0009_i12r)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from storage.tables import TZ, JSONType

DELIVERY_TENANT_TABLES = ("delivery_steps", "delivery_claims")


class DeliveryStepRow(SQLModel, table=True):
    """One step of a delivery done (`step` such as "uploaded"), with what a retry needs (a file id)."""

    __tablename__ = "delivery_steps"
    org_id: str = Field(foreign_key="organizations.id", primary_key=True, max_length=64)
    key: str = Field(primary_key=True, max_length=200)
    step: str = Field(primary_key=True, max_length=40)
    value: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    recorded_at: datetime = Field(sa_type=TZ)


class DeliveryClaimRow(SQLModel, table=True):
    """The process doing a delivery now (`holder`: host, pid and a token) and until when its lease runs."""

    __tablename__ = "delivery_claims"
    org_id: str = Field(foreign_key="organizations.id", primary_key=True, max_length=64)
    key: str = Field(primary_key=True, max_length=200)
    holder: str = Field(max_length=200)
    expires_at: datetime = Field(sa_type=TZ)
