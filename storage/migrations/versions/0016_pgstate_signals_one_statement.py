"""revenant_append upserts an append's signal rows in one statement, not one statement per row

Revision ID: 0016_pgstate
Revises: 0015_pgcost2
Create Date: 2026-12-07

`revenant_append` walked its `p_signals` rows in a PL/pgSQL loop, one upsert per row, because a fingerprint may
repeat within an append (one statement may not update a row twice). The rows now come folded, one per fingerprint
(storage/signal_projection.py `fold_signals`: what upserting each in turn would leave, the sightings counted in
`deliveries`), and one `INSERT … SELECT FROM jsonb_to_recordset … ON CONFLICT DO UPDATE` writes them: a single
alert's call runs one statement instead of the loop's query and its upsert, a group of 50 alerts' call one instead
of 51. SQLite runs the same upsert over the same folded rows. Measured in docs/benchmarks.md, "Twelfth session
(pgstate)".
"""

from __future__ import annotations

from alembic import op

from storage.append_rules import install_append_function

revision = "0016_pgstate"
down_revision = "0015_pgcost2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    install_append_function(op.get_bind())


def downgrade() -> None:
    """The older code's function counts one delivery per row; its rows are never folded, so it stays correct."""
