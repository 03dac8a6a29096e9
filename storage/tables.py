"""SQLModel tables. Every tenant table has a non-null org_id; directory tables map identities to orgs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")
TZ = sa.DateTime(timezone=True)
BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# Tables whose rows belong to one org: row-level security applies to each on PostgreSQL.
TENANT_TABLES = ("projects", "memberships", "webhook_tokens", "events", "incidents", "outbox",
                 "incident_keys", "signals", "chat_rooms", "teams_conversations", "teams_declare_origins",
                 "knowledge_sources", "teams_users")


class Organization(SQLModel, table=True):
    """Directory: one row per tenant (no incident data lives here)."""

    __tablename__ = "organizations"
    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=100, sa_column_kwargs={"unique": True})
    default_role: str = Field(default="responder", max_length=20)
    incident_seq: int = Field(default=0)
    settings: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    created_at: datetime = Field(sa_type=TZ)


class PlatformBinding(SQLModel, table=True):
    """Directory: a Slack team/enterprise or Teams tenant bound to an org."""

    __tablename__ = "platform_bindings"
    platform: str = Field(primary_key=True, max_length=20)
    external_id: str = Field(primary_key=True, max_length=100)
    org_id: str = Field(foreign_key="organizations.id", max_length=64, index=True)
    created_at: datetime = Field(sa_type=TZ)


class ProjectRow(SQLModel, table=True):
    __tablename__ = "projects"
    __table_args__ = (sa.UniqueConstraint("org_id", "name"),)
    id: str = Field(primary_key=True, max_length=64)
    org_id: str = Field(foreign_key="organizations.id", max_length=64, index=True)
    name: str = Field(max_length=100)
    settings: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    created_at: datetime = Field(sa_type=TZ)


class Membership(SQLModel, table=True):
    __tablename__ = "memberships"
    org_id: str = Field(foreign_key="organizations.id", primary_key=True, max_length=64)
    user_id: str = Field(primary_key=True, max_length=200)
    role: str = Field(max_length=20)
    display_name: str | None = Field(default=None, max_length=200)


class WebhookToken(SQLModel, table=True):
    """Only the SHA-256 of a token is stored; `prefix` helps people tell tokens apart."""

    __tablename__ = "webhook_tokens"
    id: str = Field(primary_key=True, max_length=64)
    org_id: str = Field(foreign_key="organizations.id", max_length=64, index=True)
    project_id: str | None = Field(default=None, max_length=64)
    token_hash: str = Field(max_length=64)
    prefix: str = Field(max_length=20)
    created_at: datetime = Field(sa_type=TZ)
    expires_at: datetime | None = Field(default=None, sa_type=TZ)


class EventRow(SQLModel, table=True):
    __tablename__ = "events"
    __table_args__ = (
        sa.UniqueConstraint("stream_id", "stream_version", name="uq_events_stream_version"),
        sa.UniqueConstraint("org_id", "idempotency_key", name="uq_events_org_idempotency"),
        sa.Index("ix_events_org_position", "org_id", "position"),
    )
    position: int | None = Field(default=None, primary_key=True, sa_type=BIGINT_PK)
    org_id: str = Field(foreign_key="organizations.id", max_length=64)
    project_id: str | None = Field(default=None, max_length=64)
    stream_id: str = Field(max_length=64)
    stream_version: int
    type: str = Field(max_length=64)
    data: dict[str, Any] = Field(sa_type=JSONType)
    meta: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType, sa_column_kwargs={"name": "metadata"})
    idempotency_key: str | None = Field(default=None, max_length=200)
    occurred_at: datetime = Field(sa_type=TZ)
    recorded_at: datetime = Field(sa_type=TZ)
    actor: str = Field(max_length=200)


class IncidentRow(SQLModel, table=True):
    """Projection: the current state of one incident, written with its events."""

    __tablename__ = "incidents"
    __table_args__ = (
        sa.UniqueConstraint("org_id", "number", name="uq_incidents_org_number"),
        sa.Index("ix_incidents_org_status", "org_id", "status"),
    )
    id: str = Field(primary_key=True, max_length=64)
    org_id: str = Field(foreign_key="organizations.id", max_length=64)
    project_id: str | None = Field(default=None, max_length=64)
    number: int
    title: str = Field(max_length=200)
    status: str = Field(max_length=20)
    severity: str = Field(max_length=8)
    commander: str | None = Field(default=None, max_length=200)
    version: int
    created_at: datetime = Field(sa_type=TZ)
    updated_at: datetime = Field(sa_type=TZ)
    # json, not jsonb, on PostgreSQL (migration 0013_pgcost): every append rewrites it whole and reads take it
    # whole, so jsonb's parse on write and its rendering on read were pure cost (no SQL looks inside it).
    state: dict[str, Any] = Field(sa_type=sa.JSON)


class OutboxRow(SQLModel, table=True):
    __tablename__ = "outbox"
    __table_args__ = (
        sa.UniqueConstraint("org_id", "key", name="uq_outbox_org_key"),
        sa.Index("ix_outbox_pending", "delivered_at", "available_at"),
        sa.Index("ix_outbox_org_due", "org_id", "delivered_at", "available_at"),
    )
    id: int | None = Field(default=None, primary_key=True, sa_type=BIGINT_PK)
    org_id: str = Field(foreign_key="organizations.id", max_length=64)
    topic: str = Field(max_length=64)
    key: str = Field(max_length=200)
    payload: dict[str, Any] = Field(sa_type=JSONType)
    created_at: datetime = Field(sa_type=TZ)
    available_at: datetime = Field(sa_type=TZ)
    attempts: int = Field(default=0)
    delivered_at: datetime | None = Field(default=None, sa_type=TZ)
    last_error: str | None = Field(default=None, max_length=2000)
    lease_owner: str | None = Field(default=None, max_length=64)  # the process holding the lease


class IncidentKey(SQLModel, table=True):
    """Projection: an incident's correlation keys and when each was last seen (from its state)."""

    __tablename__ = "incident_keys"
    # Per key and project, the incidents that saw the key last: the candidate probe walks it backwards from the
    # newest row (storage/candidate_probe.py, migration 0014_cand). An incident's keys by age: the trim of its
    # oldest keys reads only the rows it deletes (storage/append_rules.py `keys_trim`, migration 0015_pgcost2);
    # partial on PostgreSQL so that only statements with a condition on last_seen_at use it, never a lookup by
    # (incident, key).
    __table_args__ = (sa.Index("ix_incident_keys_recent", "org_id", "key", "project_id", "last_seen_at"),
                      sa.Index("ix_incident_keys_age", "incident_id", "last_seen_at",
                               postgresql_where=sa.text("last_seen_at IS NOT NULL")))
    incident_id: str = Field(primary_key=True, max_length=64)
    key: str = Field(primary_key=True, max_length=300)
    org_id: str = Field(foreign_key="organizations.id", max_length=64)
    project_id: str | None = Field(default=None, max_length=64)
    last_seen_at: datetime = Field(sa_type=TZ)


class SignalRow(SQLModel, table=True):
    """Projection: each distinct signal (by fingerprint) and where it went."""

    __tablename__ = "signals"
    org_id: str = Field(foreign_key="organizations.id", primary_key=True, max_length=64)
    fingerprint: str = Field(primary_key=True, max_length=128)
    incident_id: str | None = Field(default=None, max_length=64)
    source: str = Field(max_length=32)
    title: str = Field(max_length=300)
    status: str = Field(max_length=16)
    severity: str = Field(max_length=16)
    service: str | None = Field(default=None, max_length=200)
    first_seen_at: datetime = Field(sa_type=TZ)
    last_seen_at: datetime = Field(sa_type=TZ)
    deliveries: int = Field(default=1)
    last_decision: str = Field(max_length=500)


class ChatRoomRow(SQLModel, table=True):
    """Projection: which incident a chat room (Slack channel, Teams thread) belongs to."""

    __tablename__ = "chat_rooms"
    org_id: str = Field(foreign_key="organizations.id", primary_key=True, max_length=64)
    platform: str = Field(primary_key=True, max_length=20)
    room_id: str = Field(primary_key=True, max_length=200)
    incident_id: str = Field(max_length=64, index=True)
    name: str = Field(max_length=200)
    message_id: str | None = Field(default=None, max_length=200)


class SeenRequest(SQLModel, table=True):
    """Bookkeeping: signatures of signed platform requests seen in the last minutes (replay guard)."""

    __tablename__ = "seen_requests"
    signature: str = Field(primary_key=True, max_length=100)
    seen_at: datetime = Field(sa_type=TZ, index=True)


class AckedRequest(SQLModel, table=True):
    """Bookkeeping: a chat request acknowledged to its platform, kept until some process has worked it.

    Written in the replay check's transaction, before the org is known (the tenant middleware
    resolves it when the request is worked), so it is not a tenant table; see docs/architecture.md.
    """

    __tablename__ = "acked_requests"
    id: int | None = Field(default=None, sa_type=BIGINT_PK, primary_key=True)
    request_key: str = Field(max_length=100, sa_column_kwargs={"unique": True})
    platform: str = Field(max_length=20)
    mode: str = Field(default="http", max_length=20)
    body: str = Field(sa_type=sa.Text)
    headers: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    received_at: datetime = Field(sa_type=TZ)
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = Field(default=None, sa_type=TZ)
    attempts: int = Field(default=0)
    done_at: datetime | None = Field(default=None, sa_type=TZ, index=True)
    error: str | None = Field(default=None, max_length=500)
