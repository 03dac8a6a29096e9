"""Teams tables: stored conversation references, where Teams declarations came from, and the Teams accounts
of people the bot has heard from (tenant tables)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from storage.tables import TZ, JSONType

# Row-level security applies to each on PostgreSQL (migrations 0006 and 0014_teams).
TEAMS_TENANT_TABLES = ("teams_conversations", "teams_declare_origins", "teams_users")


class TeamsConversationRow(SQLModel, table=True):
    """A conversation the bot can post to proactively: a channel, a thread it opened, a chat.

    `reference` is botbuilder's ConversationReference (serialized, without an activity id);
    `incident_id` is set on the threads the bot opened as incident rooms.
    """

    __tablename__ = "teams_conversations"
    __table_args__ = (sa.Index("ix_teams_conversations_org_channel", "org_id", "channel_id"),
                      sa.Index("ix_teams_conversations_org_incident", "org_id", "incident_id"))
    org_id: str = Field(foreign_key="organizations.id", primary_key=True, max_length=64)
    conversation_id: str = Field(primary_key=True, max_length=300)
    kind: str = Field(max_length=20)
    tenant_id: str | None = Field(default=None, max_length=100)
    team_id: str | None = Field(default=None, max_length=200)
    channel_id: str | None = Field(default=None, max_length=200)
    service_url: str = Field(max_length=500)
    reference: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    incident_id: str | None = Field(default=None, max_length=64)
    updated_at: datetime = Field(sa_type=TZ)


class TeamsDeclareOriginRow(SQLModel, table=True):
    """The channel a person last declared from in Teams (the room's channel when none is configured)."""

    __tablename__ = "teams_declare_origins"
    org_id: str = Field(foreign_key="organizations.id", primary_key=True, max_length=64)
    user_id: str = Field(primary_key=True, max_length=200)
    channel_id: str = Field(max_length=200)
    declared_at: datetime = Field(sa_type=TZ)


class TeamsUserRow(SQLModel, table=True):
    """A person's Teams channel account (`29:…`, what a mention entity needs) in one tenant of an org.

    `user_id` is the person's id on the timeline (the Entra object id, else the `29:` id itself).
    """

    __tablename__ = "teams_users"
    org_id: str = Field(foreign_key="organizations.id", primary_key=True, max_length=64)
    tenant_id: str = Field(primary_key=True, max_length=100)
    user_id: str = Field(primary_key=True, max_length=200)
    teams_id: str = Field(max_length=200)
    name: str = Field(default="", max_length=200)
    updated_at: datetime = Field(sa_type=TZ)
