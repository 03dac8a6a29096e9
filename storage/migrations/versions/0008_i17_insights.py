"""insights: incidents by opening time, and the steps of multi-step deliveries (digest uploads)

Revision ID: 0008_i17
Revises: 0007
Create Date: 2026-12-06

Patterns and digests read an org's incidents opened in a period: an index on (org_id, created_at).
`delivery_steps` records each step of a delivery that takes several calls to an outside system
(Slack's upload flow: get an upload URL, upload, complete), so a retry after a partial failure
resumes from the last recorded step and looks for what it made before making it again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from storage.rls import enable_rls, grant_app_role

revision = "0008_i17"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_incidents_org_created", "incidents", ["org_id", "created_at"])
    op.create_table(
        "delivery_steps",
        sa.Column("org_id", sa.String(length=64), sa.ForeignKey("organizations.id"), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("step", sa.String(length=40), nullable=False),
        sa.Column("value", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "key", "step"),
    )
    role = op.get_context().config.attributes.get("app_role", "revenant_app")
    grant_app_role(op.get_bind(), role)
    enable_rls(op.get_bind(), role, ("delivery_steps",))


def downgrade() -> None:
    op.drop_table("delivery_steps")
    op.drop_index("ix_incidents_org_created", table_name="incidents")
