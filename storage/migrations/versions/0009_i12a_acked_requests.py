"""acked requests: chat requests acknowledged to Slack or Teams, kept until a process has worked them

Revision ID: 0009_i12a
Revises: 0008_i13
Create Date: 2026-12-06

Slack does not resend a command it got an acknowledgement for, so what was acknowledged is written
in the replay check's transaction and worked from this table by any process: a claim is a lease
(`lease_owner`, `lease_until`), an expired lease is taken over, `done_at` marks it worked. Rows are
written before the org is resolved (the tenant middleware does that when the request is worked), so
this is a bookkeeping table like `seen_requests`, without a tenant policy.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from storage.rls import grant_app_role

revision = "0009_i12a"
down_revision = "0008_i13"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "acked_requests",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("request_key", sa.String(length=100), nullable=False, unique=True),
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("mode", sa.String(length=20), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("headers", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
    )
    op.create_index("ix_acked_requests_done_at", "acked_requests", ["done_at"])
    if op.get_bind().dialect.name == "postgresql":  # what the claim scans: the unworked rows, oldest first
        op.execute("CREATE INDEX ix_acked_requests_pending ON acked_requests (id) WHERE done_at IS NULL")
    grant_app_role(op.get_bind(), op.get_context().config.attributes.get("app_role", "revenant_app"))


def downgrade() -> None:
    op.drop_table("acked_requests")
