"""append function: events, projections and outbox rows written by one server-side call

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27

`revenant_append` writes an append's events, the incident projection row, the signal projections
(incident_keys, signals) and the outbox rows, which storage/unit_of_work.py used to send as
several statements. As a PL/pgSQL function its statements are planned once per session and run
in order, so an append is one short call; the client can send it with its COMMIT in one round
trip. A stale expected version raises serialization_failure (SQLSTATE 40001) inside the call, so
nothing of it is written and the unit of work turns it into ConcurrencyConflict. It runs with the
caller's rights (SECURITY INVOKER): row-level security applies to every row it writes, and the
caller binds app.org_id first, as for any other statement. A migration that changes the columns
of events, incidents, incident_keys, signals or outbox must replace this function too; the rows
it writes are those of the SQLite path (storage/signal_projection.py), which tests compare.

The body was first written by hand here; it is now generated from the statements SQLite runs
(storage/append_rules.py), here and in 0009_i18, so the rules exist once.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.append_rules import install_append_function

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    install_append_function(op.get_bind())


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        bind.execute(sa.text("DROP FUNCTION IF EXISTS revenant_append("
                             "text, text, integer, jsonb, jsonb, jsonb, jsonb, timestamptz, jsonb)"))
