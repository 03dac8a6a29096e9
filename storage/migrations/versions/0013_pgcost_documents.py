"""the documents an ingest writes: the state as json, lz4 where PostgreSQL compresses

Revision ID: 0013_pgcost
Revises: 0012_batch
Create Date: 2026-12-06

Every append rewrites its incident's state document (~16 KB of JSON once it holds its 200 correlation keys).
As jsonb, PostgreSQL parsed it into its binary form on each write, compressed it with pglz and moved it out of
line (TOAST), and rendered it back to text on each read; no SQL looks inside it. Now the column is `json`
(its text is checked and stored as sent) and `revenant_append` takes it as a parameter of its own (`p_state
json`), so the rest of the projection row stays a small jsonb. The state document, a delivery's raw payload
and large event data are compressed with lz4 where the server was built with it (pglz otherwise): lz4 costs
about a quarter of pglz's CPU. Measured in docs/benchmarks.md, "ninth session (pgcost)".

Existing documents are converted in place (a rewrite of `incidents`, one row per incident); values written
before keep pglz until rewritten, and PostgreSQL reads both.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.append_rules import install_append_function

revision = "0013_pgcost"
down_revision = "0012_batch"
branch_labels = None
depends_on = None

# (table, column): the values that pass the TOAST threshold (~2 KB) on the ingest path
COMPRESSED = (("incidents", "state"), ("raw_payloads", "payload"), ("events", "data"))


def _has_lz4() -> bool:
    return bool(op.get_bind().execute(sa.text(
        "SELECT 'lz4' = ANY (enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")).scalar())


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return  # SQLite stores JSON as text already
    op.execute("ALTER TABLE incidents ALTER COLUMN state TYPE json USING state::json")
    if _has_lz4():  # after the type: a change of type resets the column's compression
        for table, column in COMPRESSED:
            op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION lz4")
    install_append_function(bind)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE incidents ALTER COLUMN state TYPE jsonb USING state::jsonb")
    for table, column in COMPRESSED:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION default")
