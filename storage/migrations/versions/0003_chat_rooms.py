"""chat rooms: which incident a Slack channel or Teams thread belongs to

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.rls import enable_rls, grant_app_role

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chat_rooms",
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("room_id", sa.String(length=200), nullable=False),
        sa.Column("org_id", sa.String(length=64), sa.ForeignKey("organizations.id"), nullable=False),
        sa.Column("incident_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("message_id", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("org_id", "platform", "room_id"),
    )
    op.create_index("ix_chat_rooms_incident_id", "chat_rooms", ["incident_id"])
    op.create_table(
        "seen_requests",
        sa.Column("signature", sa.String(length=100), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("signature"),
    )
    op.create_index("ix_seen_requests_seen_at", "seen_requests", ["seen_at"])
    grant_app_role(op.get_bind(), op.get_context().config.attributes.get("app_role", "revenant_app"))
    enable_rls(op.get_bind(), op.get_context().config.attributes.get("app_role", "revenant_app"), ("chat_rooms",))


def downgrade() -> None:
    op.drop_index("ix_seen_requests_seen_at", table_name="seen_requests")
    op.drop_table("seen_requests")
    op.drop_index("ix_chat_rooms_incident_id", table_name="chat_rooms")
    op.drop_table("chat_rooms")
