"""pattern-key index: each incident's recurrence pattern keys by org and key, for checks without loading states

Revision ID: 0011_i18r
Revises: 0010_i18s
Create Date: 2026-12-06

The recurrence watcher loaded every incident sharing a pattern key and walked their correlation keys on
every `incident.changed` message (~50 ms each in an alert storm). `incident_patterns` holds each incident's
pattern keys (storage/pattern_index.py), written in the append's transaction when they change; a check counts
earlier incidents per key with one probe of ix_incident_patterns_lookup (org, key, opened_at) per key.

Existing incidents are indexed here from their states, one org at a time with the transaction bound to it:
row-level security is forced on the tables read and written, so the schema owner sees no rows otherwise.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.engine import scope_to_org
from storage.pattern_index import PATTERN_TENANT_TABLES, PATTERNS, pattern_rows
from storage.rls import enable_rls
from storage.state_read import INCIDENTS, row_state, state_columns

revision = "0011_i18r"
down_revision = "0010_i18s"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incident_patterns",
        sa.Column("incident_id", sa.String(64), nullable=False),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("org_id", sa.String(64), sa.ForeignKey("organizations.id"), nullable=False),
        sa.Column("project_id", sa.String(64), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("signature", sa.String(16), nullable=False),
        sa.Column("checked", sa.String(16), nullable=True),
        sa.PrimaryKeyConstraint("incident_id", "key"))
    op.create_index("ix_incident_patterns_lookup", "incident_patterns", ["org_id", "key", "opened_at"])
    bind = op.get_bind()
    role = op.get_context().config.attributes.get("app_role", "revenant_app")
    enable_rls(bind, role, PATTERN_TENANT_TABLES)
    _index_existing(bind)


def _index_existing(bind: sa.Connection) -> None:
    for org_id in bind.execute(sa.text("SELECT id FROM organizations ORDER BY id")).scalars().all():
        scope_to_org(bind, org_id)  # transaction-local; FORCEd RLS shows an owner the org's rows only inside it
        states = [row_state(r) for r in bind.execute(sa.select(*state_columns()).where(INCIDENTS.c.org_id == org_id))]
        rows = [row for state in states for row in pattern_rows(state)]
        if rows:
            bind.execute(PATTERNS.insert(), rows)
    scope_to_org(bind, "")


def downgrade() -> None:
    op.drop_index("ix_incident_patterns_lookup", table_name="incident_patterns")
    op.drop_table("incident_patterns")
