"""outbox scan policy: workers may list which orgs have due outbox rows

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27

Outbox payloads hold only ids and event types. A worker needs to know which orgs have due
messages without iterating every org; this SELECT-only policy applies when a transaction sets
app.outbox_scan = 'on', and the worker then processes each org in its own org-scoped transaction.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    bind.execute(sa.text("DROP POLICY IF EXISTS outbox_scan ON outbox"))
    bind.execute(sa.text("CREATE POLICY outbox_scan ON outbox FOR SELECT "
                         "USING (current_setting('app.outbox_scan', true) = 'on')"))


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        bind.execute(sa.text("DROP POLICY IF EXISTS outbox_scan ON outbox"))
