"""teams: conversation references for proactive posts, and where Teams declarations came from

Revision ID: 0006
Revises: 0005a
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from storage.rls import enable_rls, grant_app_role

revision = "0006"
down_revision = "0005a"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "teams_conversations",
        sa.Column("org_id", sa.String(length=64), sa.ForeignKey("organizations.id"), nullable=False),
        sa.Column("conversation_id", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("tenant_id", sa.String(length=100), nullable=True),
        sa.Column("team_id", sa.String(length=200), nullable=True),
        sa.Column("channel_id", sa.String(length=200), nullable=True),
        sa.Column("service_url", sa.String(length=500), nullable=False),
        sa.Column("reference", sa.JSON().with_variant(JSONB(), "postgresql"),
                  nullable=False),
        sa.Column("incident_id", sa.String(length=64), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "conversation_id"),
    )
    op.create_index("ix_teams_conversations_org_channel", "teams_conversations", ["org_id", "channel_id"])
    op.create_index("ix_teams_conversations_org_incident", "teams_conversations", ["org_id", "incident_id"])
    op.create_table(
        "teams_declare_origins",
        sa.Column("org_id", sa.String(length=64), sa.ForeignKey("organizations.id"), nullable=False),
        sa.Column("user_id", sa.String(length=200), nullable=False),
        sa.Column("channel_id", sa.String(length=200), nullable=False),
        sa.Column("declared_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "user_id"),
    )
    role = op.get_context().config.attributes.get("app_role", "revenant_app")
    grant_app_role(op.get_bind(), role)
    enable_rls(op.get_bind(), role, ("teams_conversations", "teams_declare_origins"))


def downgrade() -> None:
    op.drop_table("teams_declare_origins")
    op.drop_index("ix_teams_conversations_org_incident", table_name="teams_conversations")
    op.drop_index("ix_teams_conversations_org_channel", table_name="teams_conversations")
    op.drop_table("teams_conversations")
