"""incident_keys: an index on (incident_id, last_seen_at), so an incident's key trim reads only what it deletes

Revision ID: 0015_pgcost2
Revises: 0014_cand
Create Date: 2026-12-07

Once an incident holds its MAX_KEYS correlation keys, every append that brings a new key evicts the oldest from
the state and trims `incident_keys` to match: `DELETE … WHERE incident_id = ? AND last_seen_at < floor`
(storage/append_rules.py `keys_trim`, run by `revenant_append` and by SQLite's statements). With only the primary
key (incident_id, key) to go by, that delete read every key row of the incident (~200, and the dead versions the
non-HOT key updates leave behind) to find the two or three it removes: about 15 % of `revenant_append`'s CPU.
This index makes it a range scan over the rows it deletes. It costs one more index entry per key row written
(~5 per single-alert append); measured in docs/benchmarks.md, "eleventh session (pgcost)".

On PostgreSQL it is partial, `WHERE last_seen_at IS NOT NULL` (every row: the column is NOT NULL), so that only a
statement with a condition on last_seen_at can use it (`last_seen_at < floor` implies the predicate). As a plain
index it also served revenant_lock_recent_candidates' `incident_id = ? AND key = ?` lookups in plans made while the
table was small (before ANALYZE), with the key as a filter: ~200 rows read per lookup instead of one primary-key
probe. SQLite's planner does not prove that predicate from `<`, so there it is a plain index (its probe keeps the
primary key: tests/storage/test_bounded_candidates.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_pgcost2"
down_revision = "0014_cand"
branch_labels = None
depends_on = None

AGED = sa.text("last_seen_at IS NOT NULL")  # every row; only a condition on last_seen_at implies it


def upgrade() -> None:
    op.create_index("ix_incident_keys_age", "incident_keys", ["incident_id", "last_seen_at"],
                    postgresql_where=AGED)


def downgrade() -> None:
    op.drop_index("ix_incident_keys_age", table_name="incident_keys")
