"""the outbox: an index on the undelivered rows by org, topic and incident (PostgreSQL)

Revision ID: 0013_outbox
Revises: 0013_pgcost
Create Date: 2026-12-06

A claimed war-room refresh folds the other undelivered refreshes of its incident into itself
(storage/outbox_pg.py, CLAIM's `folded`). That lookup filtered every undelivered row of the org by
`payload ->> 'incident_id'`: in an alert storm the org's backlog was read again for each claim (216–479
outbox tuples fetched per ingested signal at concurrency 32, bench/ingest.py --pg-stats; 89–157 with this index,
three runs each, with an (org_id, id) index beside it; 175–176 with this one alone, two runs; PostgreSQL's CPU per
signal did not move measurably at load 4–8). A partial expression index on the undelivered rows makes it a
probe whatever the backlog: it matters most when the backlog is deep (Slack rate-limiting the org, a stopped
deliverer), where the filter would read every pending row for every claim.
SQLite needs nothing: its outbox path (storage/outbox.py) serves one process and small backlogs.
"""

from __future__ import annotations

from alembic import op

revision = "0013_outbox"
down_revision = "0013_pgcost"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX IF NOT EXISTS ix_outbox_pending_incident ON outbox "
                   "(org_id, topic, (payload ->> 'incident_id')) WHERE delivered_at IS NULL")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_outbox_pending_incident")
