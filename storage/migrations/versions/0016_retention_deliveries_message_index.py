"""outbox_deliveries: an index on message_id, so that deleting an outbox row does not read the whole table

Revision ID: 0016_retention
Revises: 0015_delivery
Create Date: 2026-12-07

`outbox_deliveries.message_id` references `outbox.id` (ON DELETE CASCADE, migration 0009_i15o) and its primary key
is (org_id, message_id, subscriber): no index leads with message_id. Deleting an outbox row runs the foreign key's
action, `DELETE FROM outbox_deliveries WHERE message_id = $1` (without the org: referential actions ignore row-level
security), which scanned the whole table once per deleted row. Outbox retention (storage/outbox_retention.py,
`revenant outbox prune`) deletes delivered rows in batches; with this index each row's cascade is one probe.
It costs one more index entry per delivery row written (measured in docs/benchmarks.md, "Twelfth session
(retention)").

On PostgreSQL the index is built CONCURRENTLY (outside the migration's transaction): the table is the one that grew
without bound before retention, and a plain CREATE INDEX would block every delivery's outcome write while it builds.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_retention"
down_revision = "0015_delivery"
branch_labels = None
depends_on = "0009_i15o"  # outbox_deliveries is made on that branch (0015_delivery's line does not hold it)

NAME = "ix_outbox_deliveries_message"
_INVALID = ("SELECT true FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relname = :name AND c.relnamespace = 'public'::regnamespace AND NOT i.indisvalid")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            # an earlier build that failed half-way leaves an INVALID index that IF NOT EXISTS would keep
            if op.get_bind().execute(sa.text(_INVALID), {"name": NAME}).scalar():
                op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {NAME}")
            op.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {NAME} ON outbox_deliveries (message_id)")
        return
    op.create_index(NAME, "outbox_deliveries", ["message_id"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {NAME}")
        return
    op.drop_index(NAME, table_name="outbox_deliveries")
