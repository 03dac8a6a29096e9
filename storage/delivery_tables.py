"""Delivery tables (tenant tables): the recorded steps of multi-step deliveries (migration 0008_i17), who
holds each delivery right now (migration 0009_i12r), and the state of each (outbox message, subscriber)
delivery (migration 0009_i15o)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from storage.tables import TZ, JSONType

DELIVERY_TENANT_TABLES = ("delivery_steps", "delivery_claims", "outbox_deliveries")
# pending: due again at available_at; dead: the attempt cap was reached; dropped: an operator gave it up;
# coalesced: a later refresh of the same incident covered it; delivered: done.
STATES = ("pending", "delivered", "dead", "dropped", "coalesced")


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


class OutboxDeliveryRow(SQLModel, table=True):
    """One subscriber's delivery of one outbox message: its attempts, next time, outcome and last error."""

    __tablename__ = "outbox_deliveries"
    # by message (migration 0016_retention): what deleting an outbox row reads through its foreign key's cascade
    __table_args__ = (sa.Index("ix_outbox_deliveries_state", "org_id", "state"),
                      sa.Index("ix_outbox_deliveries_message", "message_id"))
    org_id: str = Field(foreign_key="organizations.id", primary_key=True, max_length=64)
    message_id: int = Field(primary_key=True, sa_type=sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                            foreign_key="outbox.id")
    subscriber: str = Field(primary_key=True, max_length=80)
    state: str = Field(max_length=12)
    attempts: int = Field(default=0)
    available_at: datetime = Field(sa_type=TZ)
    updated_at: datetime = Field(sa_type=TZ)
    last_error: str | None = Field(default=None, max_length=2000)


DELIVERIES = OutboxDeliveryRow.__table__  # type: ignore[attr-defined]
