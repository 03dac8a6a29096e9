"""knowledge sources: where an org's runbooks live (GitHub, local git), their webhook secret and last sync

Revision ID: 0008_i16
Revises: 0007
Create Date: 2026-12-06

A tenant table under row-level security. The SELECT-only policy `source_scan` lets the scheduler list which
orgs have sources (app.source_scan = 'on'); each source is then synced in its own org-scoped transactions.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.rls import enable_rls, grant_app_role

revision = "0008_i16"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "knowledge_sources",
        sa.Column("org_id", sa.String(length=64), sa.ForeignKey("organizations.id"), nullable=False),
        sa.Column("source_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("location", sa.String(length=500), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("ref", sa.String(length=200), nullable=False),
        sa.Column("secret", sa.String(length=100), nullable=False),
        sa.Column("project", sa.String(length=100), nullable=False),
        sa.Column("last_commit", sa.String(length=64), nullable=True),
        sa.Column("last_synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "source_id"),
    )
    bind = op.get_bind()
    role = op.get_context().config.attributes.get("app_role", "revenant_app")
    grant_app_role(bind, role)
    enable_rls(bind, role, ("knowledge_sources",))
    if bind.dialect.name == "postgresql":
        bind.execute(sa.text("DROP POLICY IF EXISTS source_scan ON knowledge_sources"))
        bind.execute(sa.text("CREATE POLICY source_scan ON knowledge_sources FOR SELECT "
                             "USING (current_setting('app.source_scan', true) = 'on')"))


def downgrade() -> None:
    op.drop_table("knowledge_sources")
