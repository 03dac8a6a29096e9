"""teams: the Teams channel account (`29:…`) of each person the bot hears from, per org and tenant

Revision ID: 0014_teams
Revises: 0013_outbox
Create Date: 2026-12-07

A Teams @mention needs the person's channel account id, which Teams sends with every activity
(`from.id`) but which the timeline never kept (it keys people by Entra object id). The table is written
by the tenant middleware once per new or changed person (storage/teams_people.py) and read when the bot
renders a mention. A tenant table: row-level security like the other Teams tables.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.rls import enable_rls, grant_app_role

revision = "0014_teams"
down_revision = "0013_outbox"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "teams_users",
        sa.Column("org_id", sa.String(length=64), sa.ForeignKey("organizations.id"), nullable=False),
        sa.Column("tenant_id", sa.String(length=100), nullable=False),
        sa.Column("user_id", sa.String(length=200), nullable=False),
        sa.Column("teams_id", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False, server_default=""),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "tenant_id", "user_id"),
    )
    role = op.get_context().config.attributes.get("app_role", "revenant_app")
    grant_app_role(op.get_bind(), role)
    enable_rls(op.get_bind(), role, ("teams_users",))


def downgrade() -> None:
    op.drop_table("teams_users")
