"""append function generated from the Python projection rules (one source of truth)

Revision ID: 0009_i18
Revises: 0008_i13
Create Date: 2026-12-06

Migration 0007 wrote `revenant_append` by hand, a PL/pgSQL copy of the projection rules that SQLite
runs as statements. It is now generated from those statements (storage/append_rules.py); this
installs the generated body. A change to a rule, or to a column it writes, ships with a migration
that calls `append_function_sql()` again; tests/storage/test_append_rules.py fails while the
installed function and the generated one differ.
"""

from __future__ import annotations

from alembic import op

from storage.append_rules import install_append_function

revision = "0009_i18"
down_revision = "0008_i13"
branch_labels = None
depends_on = None


def upgrade() -> None:
    install_append_function(op.get_bind())


def downgrade() -> None:
    """The hand-written body of 0007 is not restored: the generated one writes the same rows."""
