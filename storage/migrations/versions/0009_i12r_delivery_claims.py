"""delivery claims: one process at a time works on a delivery (opening a room, posting a notice)

Revision ID: 0009_i12r
Revises: 0008_i13
Create Date: 2026-12-06

`delivery_claims` holds, per (org, delivery key), the process doing the delivery now and when its
lease runs out. With the steps in `delivery_steps` (0008_i17), a delivery to Slack or Teams is claimed
once across processes and resumes from its recorded steps after a failure or a killed process.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.rls import enable_rls, grant_app_role

revision = "0009_i12r"
down_revision = "0008_i13"
branch_labels = None
depends_on = ("0008_i17",)


def upgrade() -> None:
    op.create_table(
        "delivery_claims",
        sa.Column("org_id", sa.String(length=64), sa.ForeignKey("organizations.id"), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "key"),
    )
    role = op.get_context().config.attributes.get("app_role", "revenant_app")
    grant_app_role(op.get_bind(), role)
    enable_rls(op.get_bind(), role, ("delivery_claims",))


def downgrade() -> None:
    op.drop_table("delivery_claims")
