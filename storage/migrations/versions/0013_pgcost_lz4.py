"""the documents an ingest writes: lz4 instead of pglz when PostgreSQL was built with it

Revision ID: 0013_pgcost
Revises: 0012_batch
Create Date: 2026-12-06

Every append rewrites its incident's state document (~16 KB of JSON once it holds its 200 correlation keys),
which PostgreSQL compresses and moves out of line (TOAST) on each write; a delivery's raw payload and large
event data go the same way. pglz compression was ~0.4 ms of PostgreSQL CPU per state write on this project's
machine; lz4 does the same in about a quarter of that and decompresses faster on reads
(docs/benchmarks.md, "ninth session (pgcost)"). Only values written from now on use lz4; existing ones stay
pglz, and PostgreSQL reads both. A server built without lz4 keeps pglz (nothing changes there).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_pgcost"
down_revision = "0012_batch"
branch_labels = None
depends_on = None

# (table, column): the values that reach the TOAST threshold (~2 KB) on the ingest path
COLUMNS = (("incidents", "state"), ("raw_payloads", "payload"), ("events", "data"))


def _has_lz4() -> bool:
    return bool(op.get_bind().execute(sa.text(
        "SELECT 'lz4' = ANY (enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")).scalar())


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql" and _has_lz4():
        for table, column in COLUMNS:
            op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION lz4")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, column in COLUMNS:
            op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION default")
