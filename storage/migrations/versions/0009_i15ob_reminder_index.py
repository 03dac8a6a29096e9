"""reminder index: when each incident next needs the reminder tick, kept by a trigger on the projection

Revision ID: 0009_i15ob
Revises: 0009_i15o
Create Date: 2026-12-06

The reminder tick used to run 2–3 transactions for every org on every tick, incidents or not (17–34 s
at 10,000 orgs). Now `reminder_due` holds, per incident, the next time the tick must look at it. A
trigger on `incidents` (both write paths: Python and revenant_append) sets it to the incident's
`updated_at` on every change (and bumps `seq`), so a changed incident is looked at on the next tick;
the tick then moves it to the next time a reminder or a room archive can fall due, or removes it when
nothing can, unless `seq` moved meanwhile (a change while the tick looked keeps it due).

revenant_due_reminders(now, limit) lists due (org, incident) pairs across orgs, and
revenant_digest_orgs() the orgs with a project-level weekly digest: ids only. Existing incidents are
seeded due now (open ones, and closed ones whose rooms may still be archived).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

from storage.rls import DIRECTORY_ROLE, enable_rls, install_directory_functions

revision = "0009_i15ob"
down_revision = "0009_i15o"
branch_labels = None
depends_on = None

_PG_TRIGGER = """
CREATE OR REPLACE FUNCTION revenant_reminder_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO reminder_due (org_id, incident_id, due_at) VALUES (NEW.org_id, NEW.id, NEW.updated_at)
  ON CONFLICT (org_id, incident_id) DO UPDATE SET due_at = LEAST(reminder_due.due_at, EXCLUDED.due_at),
    seq = reminder_due.seq + 1;
  RETURN NEW;
END $$"""
_SQLITE_TRIGGER = """
CREATE TRIGGER IF NOT EXISTS incidents_reminder_due_{when} AFTER {when} ON incidents BEGIN
  INSERT INTO reminder_due (org_id, incident_id, due_at) VALUES (NEW.org_id, NEW.id, NEW.updated_at)
  ON CONFLICT (org_id, incident_id) DO UPDATE SET due_at = MIN(reminder_due.due_at, excluded.due_at),
    seq = reminder_due.seq + 1;
END"""
_FUNCTIONS = {
    "revenant_due_reminders(timestamptz, integer)": """
CREATE OR REPLACE FUNCTION revenant_due_reminders(p_now timestamptz, p_limit integer)
RETURNS TABLE (org_id text, incident_id text, seq integer)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT r.org_id::text, r.incident_id::text, r.seq FROM reminder_due r WHERE r.due_at <= p_now
  ORDER BY r.due_at LIMIT p_limit
$$""",
    "revenant_digest_orgs()": """
CREATE OR REPLACE FUNCTION revenant_digest_orgs() RETURNS SETOF text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT DISTINCT p.org_id::text FROM projects p WHERE p.settings -> 'insights' -> 'digest' IS NOT NULL
    AND jsonb_typeof(p.settings -> 'insights' -> 'digest') <> 'null'
$$""",
}
SEED_CLOSED_DAYS = 31  # closed incidents whose rooms may still be due for archiving


def upgrade() -> None:
    op.create_table(
        "reminder_due",
        sa.Column("org_id", sa.String(length=64), sa.ForeignKey("organizations.id"), nullable=False),
        sa.Column("incident_id", sa.String(length=64), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("org_id", "incident_id"),
    )
    op.create_index("ix_reminder_due_at", "reminder_due", ["due_at"])
    bind = op.get_bind()
    role = op.get_context().config.attributes.get("app_role", "revenant_app")
    enable_rls(bind, role, ("reminder_due",))
    # Seed: every incident that may owe a reminder or an archive is looked at on the first tick. On
    # PostgreSQL this runs as the schema owner; row-level security hides rows from an owner without
    # BYPASSRLS, and then the trigger seeds each incident at its next change instead.
    bind.execute(sa.text(
        "INSERT INTO reminder_due (org_id, incident_id, due_at) SELECT org_id, id, updated_at FROM incidents "
        "WHERE status <> 'closed' OR updated_at >= :since"),
        {"since": _days_ago()})
    if bind.dialect.name != "postgresql":
        for when in ("INSERT", "UPDATE"):
            bind.execute(sa.text(_SQLITE_TRIGGER.format(when=when)))
        return
    bind.execute(sa.text(_PG_TRIGGER))
    bind.execute(sa.text("DROP TRIGGER IF EXISTS incidents_reminder_due ON incidents"))
    bind.execute(sa.text("CREATE TRIGGER incidents_reminder_due AFTER INSERT OR UPDATE OF updated_at ON incidents "
                         "FOR EACH ROW EXECUTE FUNCTION revenant_reminder_touch()"))
    for statement in (
        f"GRANT SELECT (org_id, incident_id, due_at, seq) ON reminder_due TO {DIRECTORY_ROLE}",
        f"GRANT SELECT (org_id, settings) ON projects TO {DIRECTORY_ROLE}",
        "DROP POLICY IF EXISTS reminder_due_scan ON reminder_due",
        f"CREATE POLICY reminder_due_scan ON reminder_due FOR SELECT TO {DIRECTORY_ROLE} USING (true)",
        "DROP POLICY IF EXISTS projects_digest_scan ON projects",
        f"CREATE POLICY projects_digest_scan ON projects FOR SELECT TO {DIRECTORY_ROLE} USING (true)",
    ):
        bind.execute(sa.text(statement))
    install_directory_functions(bind, _FUNCTIONS, role)


def _days_ago() -> datetime:
    return datetime.now(UTC) - timedelta(days=SEED_CLOSED_DAYS)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for signature in _FUNCTIONS:
            bind.execute(sa.text(f"DROP FUNCTION IF EXISTS {signature}"))
        bind.execute(sa.text("DROP TRIGGER IF EXISTS incidents_reminder_due ON incidents"))
        bind.execute(sa.text("DROP FUNCTION IF EXISTS revenant_reminder_touch()"))
        bind.execute(sa.text("DROP POLICY IF EXISTS projects_digest_scan ON projects"))
    else:
        for when in ("INSERT", "UPDATE"):
            bind.execute(sa.text(f"DROP TRIGGER IF EXISTS incidents_reminder_due_{when}"))
    op.drop_index("ix_reminder_due_at", table_name="reminder_due")
    op.drop_table("reminder_due")
