"""signal projections: incident correlation keys and signals by fingerprint

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.rls import enable_rls

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "incident_keys",
        sa.Column("incident_id", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("org_id", sa.String(length=64), sa.ForeignKey("organizations.id"), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=True),
        sa.Column("last_seen_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("incident_id", "key"),
    )
    op.create_index("ix_incident_keys_lookup", "incident_keys", ["org_id", "key"])
    op.create_table(
        "signals",
        sa.Column("org_id", sa.String(length=64), sa.ForeignKey("organizations.id"), nullable=False),
        sa.Column("fingerprint", sa.String(length=128), nullable=False),
        sa.Column("incident_id", sa.String(length=64), nullable=True),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("service", sa.String(length=200), nullable=True),
        sa.Column("first_seen_at", TZ, nullable=False),
        sa.Column("last_seen_at", TZ, nullable=False),
        sa.Column("deliveries", sa.Integer(), nullable=False),
        sa.Column("last_decision", sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "fingerprint"),
    )
    enable_rls(op.get_bind(), op.get_context().config.attributes.get("app_role", "revenant_app"),
               ("incident_keys", "signals"))


def downgrade() -> None:
    op.drop_table("signals")
    op.drop_index("ix_incident_keys_lookup", table_name="incident_keys")
    op.drop_table("incident_keys")
