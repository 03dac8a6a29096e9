"""PostgreSQL row-level security: the app role, grants and one tenant policy per table."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Connection

ORG_SETTING = "app.org_id"
DIRECTORY_ROLE = "revenant_directory"
# What the app role may never do (migration 0008_i13): change bindings, read Slack tokens, touch alembic_version.
_RESTRICTIONS = (
    ("platform_bindings", "INSERT, UPDATE, DELETE, TRUNCATE"),
    ("slack_installations", "SELECT, UPDATE, DELETE, TRUNCATE"),
    ("slack_bots", "SELECT, UPDATE, DELETE, TRUNCATE"),
    ("alembic_version", "ALL"),
)


def enable_rls(conn: Connection, app_role: str, tables: Iterable[str]) -> None:
    """Create the app role if needed, grant it DML, and FORCE a tenant policy on each table.

    A session that has not set app.org_id sees no tenant rows: current_setting(..., true)
    is NULL (or '') and never equals an org id.
    """
    if conn.dialect.name != "postgresql":
        return
    conn.execute(sa.text(
        f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{app_role}') "
        f"THEN CREATE ROLE {app_role} NOLOGIN; END IF; END $$"
    ))
    conn.execute(sa.text(
        f"DO $$ BEGIN IF NOT pg_has_role(current_user, '{app_role}', 'MEMBER') "
        f"THEN EXECUTE 'GRANT {app_role} TO ' || quote_ident(current_user); END IF; END $$"
    ))
    grant_app_role(conn, app_role)
    for table in tables:
        conn.execute(sa.text(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY"))
        conn.execute(sa.text(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY"))
        conn.execute(sa.text(f"DROP POLICY IF EXISTS tenant_isolation ON {table}"))
        conn.execute(sa.text(
            f"CREATE POLICY tenant_isolation ON {table} "
            f"USING (org_id = current_setting('{ORG_SETTING}', true)) "
            f"WITH CHECK (org_id = current_setting('{ORG_SETTING}', true))"
        ))


def grant_app_role(conn: Connection, app_role: str) -> None:
    """Grant DML on every table and sequence (re-run by each migration that adds tables)."""
    if conn.dialect.name != "postgresql":
        return
    conn.execute(sa.text(f"GRANT USAGE ON SCHEMA public TO {app_role}"))
    conn.execute(sa.text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {app_role}"))
    conn.execute(sa.text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {app_role}"))
    restrict_app_role(conn, app_role)


def restrict_app_role(conn: Connection, app_role: str) -> None:
    """Take back what grant_app_role's blanket grant gives and the app role must not have (see 0008_i13)."""
    if conn.dialect.name != "postgresql":
        return
    for table, rights in _RESTRICTIONS:
        if conn.execute(sa.text("SELECT to_regclass(:t)"), {"t": f"public.{table}"}).scalar() is not None:
            conn.execute(sa.text(f"REVOKE {rights} ON {table} FROM {app_role}"))


def disable_rls(conn: Connection, tables: Iterable[str]) -> None:
    if conn.dialect.name != "postgresql":
        return
    for table in tables:
        conn.execute(sa.text(f"DROP POLICY IF EXISTS tenant_isolation ON {table}"))
        conn.execute(sa.text(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY"))
        conn.execute(sa.text(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY"))


def install_directory_functions(conn: Connection, functions: Mapping[str, str], app_role: str) -> None:
    """Create SECURITY DEFINER functions (signature -> CREATE statement) owned by the directory role and
    executable by the app role only.

    PostgreSQL lets a function change owner only to a role with CREATE on its schema. A superuser skips
    that check; the documented owner (a CREATEROLE login owning the database, docs/configuration.md) does
    not, and since PostgreSQL 15 nobody but the database owner has CREATE on `public`. The directory role
    gets CREATE for the hand-over and loses it right after, so it never holds it outside a migration."""
    conn.execute(sa.text(f"GRANT CREATE ON SCHEMA public TO {DIRECTORY_ROLE}"))
    for signature, body in functions.items():
        conn.execute(sa.text(body))
        conn.execute(sa.text(f"ALTER FUNCTION {signature} OWNER TO {DIRECTORY_ROLE}"))
        conn.execute(sa.text(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC"))
        conn.execute(sa.text(f"GRANT EXECUTE ON FUNCTION {signature} TO {app_role}"))
    conn.execute(sa.text(f"REVOKE CREATE ON SCHEMA public FROM {DIRECTORY_ROLE}"))
