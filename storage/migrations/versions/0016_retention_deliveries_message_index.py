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

A plain CREATE INDEX, in the migration's transaction: it blocks writes to outbox_deliveries (deliveries' outcomes)
while it builds, which on a table that grew without bound can be seconds. CREATE INDEX CONCURRENTLY was tried and
dropped: it waits for every transaction whose snapshot is older, and a second `revenant db upgrade` waiting for the
migration lock (storage/migrate.py) holds one, while the first holds the lock until its build is done: concurrent
upgrades hung (tests/bot/test_cli.py, three at once). outbox_deliveries exists from 0009_i15o, on another branch
than 0015_delivery: `depends_on` orders it first.
"""

from __future__ import annotations

from alembic import op

revision = "0016_retention"
down_revision = "0015_delivery"
branch_labels = None
depends_on = "0009_i15o"

NAME = "ix_outbox_deliveries_message"


def upgrade() -> None:
    op.create_index(NAME, "outbox_deliveries", ["message_id"])


def downgrade() -> None:
    op.drop_index(NAME, table_name="outbox_deliveries")
