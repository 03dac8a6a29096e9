"""least privilege: the app role loses what it should never have; a directory role answers for it

Revision ID: 0008_i13
Revises: 0007
Create Date: 2026-12-06

Before, the app role (revenant_app) had every DML right on every table: it could rebind one org's
Slack workspace to another org, read every workspace's Slack tokens, write alembic_version, and
turn on app.outbox_scan to read every org's outbox rows. Now:

- revenant_directory (NOLOGIN) owns a few SECURITY DEFINER functions, each with a pinned search_path,
  and has only the rights they need: SELECT and INSERT on platform_bindings; SELECT and DELETE on
  slack_installations and slack_bots; SELECT on three columns of outbox (org_id, delivered_at,
  available_at) through a policy of its own.
- revenant_app keeps SELECT on platform_bindings and loses INSERT/UPDATE/DELETE there: it links a
  workspace through revenant_link(), which adds a binding and never moves one (moving is the schema
  owner's change). It may INSERT Slack installations but reads and deletes one workspace's rows only
  through revenant_slack_bot(), revenant_slack_installation() and revenant_slack_forget(). It has no
  rights on alembic_version. The outbox_scan policy is gone; revenant_due_orgs() lists the orgs with
  due messages and nothing else.
- storage/rls.py's grant_app_role re-applies these restrictions, so migrations written in parallel
  that grant on every table keep them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.rls import DIRECTORY_ROLE, install_directory_functions, restrict_app_role

revision = "0008_i13"
down_revision = "0007"
branch_labels = None
depends_on = None

_BOT = "client_id = p_client AND enterprise_id IS NOT DISTINCT FROM p_enterprise AND team_id IS NOT DISTINCT FROM p_team"
_FUNCTIONS = {
    "revenant_link(text, text, text)": """
CREATE OR REPLACE FUNCTION revenant_link(p_platform text, p_external_id text, p_org text) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  bound text;
BEGIN
  INSERT INTO platform_bindings (platform, external_id, org_id, created_at)
  VALUES (p_platform, p_external_id, p_org, now())
  ON CONFLICT (platform, external_id) DO NOTHING;
  SELECT org_id INTO bound FROM platform_bindings WHERE platform = p_platform AND external_id = p_external_id;
  RETURN bound;
END $$""",
    "revenant_due_orgs(timestamptz)": """
CREATE OR REPLACE FUNCTION revenant_due_orgs(p_now timestamptz) RETURNS SETOF text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT DISTINCT org_id FROM outbox WHERE delivered_at IS NULL AND available_at <= p_now
$$""",
    "revenant_slack_bot(text, text, text)": f"""
CREATE OR REPLACE FUNCTION revenant_slack_bot(p_client text, p_enterprise text, p_team text)
RETURNS SETOF slack_bots LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT * FROM slack_bots WHERE {_BOT} AND bot_token IS NOT NULL ORDER BY installed_at DESC LIMIT 1
$$""",
    "revenant_slack_installation(text, text, text, text)": f"""
CREATE OR REPLACE FUNCTION revenant_slack_installation(p_client text, p_enterprise text, p_team text,
                                                       p_user text)
RETURNS SETOF slack_installations LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT * FROM slack_installations WHERE {_BOT} AND (p_user IS NULL OR user_id = p_user)
  ORDER BY installed_at DESC LIMIT 1
$$""",
    "revenant_slack_forget(text, text, text, text, boolean)": f"""
CREATE OR REPLACE FUNCTION revenant_slack_forget(p_client text, p_enterprise text, p_team text, p_user text,
                                                 p_bots boolean) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  IF p_bots THEN
    DELETE FROM slack_bots WHERE {_BOT};
  ELSE
    DELETE FROM slack_installations WHERE {_BOT} AND (p_user IS NULL OR user_id = p_user);
  END IF;
END $$""",
}


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    app_role = op.get_context().config.attributes.get("app_role", "revenant_app")
    bind.execute(sa.text(
        f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{DIRECTORY_ROLE}') THEN "
        f"CREATE ROLE {DIRECTORY_ROLE} NOLOGIN; END IF; "
        "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"))  # two databases migrating at once
    bind.execute(sa.text(
        f"DO $$ BEGIN IF NOT pg_has_role(current_user, '{DIRECTORY_ROLE}', 'MEMBER') "
        f"THEN EXECUTE 'GRANT {DIRECTORY_ROLE} TO ' || quote_ident(current_user); END IF; END $$"))
    for statement in (
        f"GRANT USAGE ON SCHEMA public TO {DIRECTORY_ROLE}",
        f"GRANT SELECT, INSERT ON platform_bindings TO {DIRECTORY_ROLE}",
        f"GRANT SELECT, DELETE ON slack_installations, slack_bots TO {DIRECTORY_ROLE}",
        f"GRANT SELECT (org_id, delivered_at, available_at) ON outbox TO {DIRECTORY_ROLE}",
        "DROP POLICY IF EXISTS outbox_scan ON outbox",
        "DROP POLICY IF EXISTS outbox_due_scan ON outbox",
        f"CREATE POLICY outbox_due_scan ON outbox FOR SELECT TO {DIRECTORY_ROLE} USING (true)",
    ):
        bind.execute(sa.text(statement))
    install_directory_functions(bind, _FUNCTIONS, app_role)
    restrict_app_role(bind, app_role)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    app_role = op.get_context().config.attributes.get("app_role", "revenant_app")
    for signature in _FUNCTIONS:
        bind.execute(sa.text(f"DROP FUNCTION IF EXISTS {signature}"))
    bind.execute(sa.text("DROP POLICY IF EXISTS outbox_due_scan ON outbox"))
    bind.execute(sa.text("CREATE POLICY outbox_scan ON outbox FOR SELECT "
                         "USING (current_setting('app.outbox_scan', true) = 'on')"))
    bind.execute(sa.text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {app_role}"))
