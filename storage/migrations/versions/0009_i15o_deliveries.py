"""deliveries: one subscription per subscriber, per-message leases, and a due-org list oldest first

Revision ID: 0009_i15o
Revises: 0008_i13
Create Date: 2026-12-06

- `outbox_deliveries` keeps each (message, subscriber) pair's own state: attempts, when it is due
  again, and whether it is pending, delivered, dead (attempt cap reached), dropped (by an operator) or
  coalesced (a later refresh of the same incident covered it), with its last error.
- `outbox.lease_owner` names the process holding a message's lease, so a heartbeat extends only its
  own leases and a finish after a lost lease changes nothing. An index on (org_id, delivered_at,
  available_at) serves the one-message claim.
- revenant_due_orgs_oldest(now, limit) lists orgs with due messages, oldest due first (fair order,
  never by id); revenant_delivery_stats(now) counts deliveries per org, subscriber and state, and the
  oldest due message per org, for /metrics and /healthz. Both show ids and counts, nothing else.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.rls import DIRECTORY_ROLE, enable_rls, install_directory_functions

revision = "0009_i15o"
down_revision = "0008_i13"
branch_labels = None
depends_on = None

_FUNCTIONS = {
    "revenant_due_orgs_oldest(timestamptz, integer)": """
CREATE OR REPLACE FUNCTION revenant_due_orgs_oldest(p_now timestamptz, p_limit integer)
RETURNS TABLE (org_id text, oldest timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT o.org_id::text, min(o.available_at) FROM outbox o
  WHERE o.delivered_at IS NULL AND o.available_at <= p_now
  GROUP BY o.org_id ORDER BY min(o.available_at), o.org_id LIMIT p_limit
$$""",
    "revenant_delivery_stats(timestamptz)": """
CREATE OR REPLACE FUNCTION revenant_delivery_stats(p_now timestamptz)
RETURNS TABLE (org_id text, subscriber text, state text, n bigint, oldest timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT d.org_id::text, d.subscriber::text,
         CASE WHEN d.state = 'pending' AND d.attempts > 0 THEN 'retrying' ELSE d.state END,
         count(*), NULL::timestamptz
  FROM outbox_deliveries d WHERE d.state IN ('pending', 'dead') GROUP BY 1, 2, 3
  UNION ALL
  SELECT o.org_id::text, '', 'due', count(*), min(o.created_at) FROM outbox o
  WHERE o.delivered_at IS NULL AND o.available_at <= p_now GROUP BY 1
$$""",
}


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lease_owner", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_outbox_org_due", ["org_id", "delivered_at", "available_at"], unique=False)
    op.create_table(
        "outbox_deliveries",
        sa.Column("org_id", sa.String(length=64), sa.ForeignKey("organizations.id"), nullable=False),
        sa.Column("message_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  sa.ForeignKey("outbox.id", ondelete="CASCADE"), nullable=False),
        sa.Column("subscriber", sa.String(length=80), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("available_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=2000), nullable=True),
        sa.PrimaryKeyConstraint("org_id", "message_id", "subscriber"),
    )
    op.create_index("ix_outbox_deliveries_state", "outbox_deliveries", ["org_id", "state"])
    bind = op.get_bind()
    role = op.get_context().config.attributes.get("app_role", "revenant_app")
    enable_rls(bind, role, ("outbox_deliveries",))
    if bind.dialect.name != "postgresql":
        return
    for statement in (
        f"GRANT SELECT (org_id, created_at) ON outbox TO {DIRECTORY_ROLE}",
        f"GRANT SELECT (org_id, subscriber, state, attempts) ON outbox_deliveries TO {DIRECTORY_ROLE}",
        "DROP POLICY IF EXISTS deliveries_stats_scan ON outbox_deliveries",
        f"CREATE POLICY deliveries_stats_scan ON outbox_deliveries FOR SELECT TO {DIRECTORY_ROLE} USING (true)",
    ):
        bind.execute(sa.text(statement))
    install_directory_functions(bind, _FUNCTIONS, role)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for signature in _FUNCTIONS:
            bind.execute(sa.text(f"DROP FUNCTION IF EXISTS {signature}"))
    op.drop_index("ix_outbox_deliveries_state", table_name="outbox_deliveries")
    op.drop_table("outbox_deliveries")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_org_due")
        batch_op.drop_column("lease_owner")
