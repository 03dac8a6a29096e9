"""slack oauth: installations, bots and OAuth state (slack_sdk's table shapes)

Revision ID: 0005a
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op

from storage.rls import grant_app_role
from storage.slack_installations import slack_oauth_metadata

revision = "0005a"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    slack_oauth_metadata().create_all(bind)
    grant_app_role(bind, op.get_context().config.attributes.get("app_role", "revenant_app"))


def downgrade() -> None:
    slack_oauth_metadata().drop_all(op.get_bind())
