"""Privilege probes on PostgreSQL: what the app role (and a login role that is only a member of it) cannot do."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import ProgrammingError

from bot.bootstrap import App
from incident_core.errors import ValidationError
from storage.engine import make_engine, normalize_url
from storage.rls import DIRECTORY_ROLE
from tests.conftest import ADMIN_URL
from tests.helpers import declare, new_org

FORBIDDEN = [
    "UPDATE platform_bindings SET org_id = :other WHERE external_id = :team",
    "DELETE FROM platform_bindings WHERE external_id = :team",
    "INSERT INTO platform_bindings (platform, external_id, org_id, created_at) VALUES ('slack', 'T0NEW', :other, now())",
    "TRUNCATE platform_bindings",
    "SELECT * FROM slack_installations",
    "SELECT bot_token FROM slack_bots",
    "UPDATE slack_bots SET bot_token = 'x'",
    "DELETE FROM slack_installations",
    "SELECT * FROM alembic_version",
    "UPDATE alembic_version SET version_num = 'x'",
    "DELETE FROM alembic_version",
]


def probe(conn: sa.Connection, statement: str, **params: str) -> str:
    """The error the statement gets (it must get one), after rolling back."""
    try:
        conn.execute(sa.text(statement), params)
    except ProgrammingError as exc:
        conn.rollback()
        return str(exc.orig)
    conn.rollback()
    raise AssertionError(f"the app role could run: {statement}")


def test_the_app_role_cannot_rebind_read_tokens_or_touch_alembic(pg_app: App) -> None:
    a, b = new_org(pg_app), new_org(pg_app)
    team = f"T{uuid.uuid4().hex[:10].upper()}"
    pg_app.directory.bind("slack", team, a.org.id)
    with pg_app.engine.connect() as conn:  # the app's own connections run as revenant_app
        assert conn.execute(sa.text("SELECT current_user")).scalar() == "revenant_app"
        for statement in FORBIDDEN:
            assert "permission denied" in probe(conn, statement, team=team, other=b.org.id), statement
        moved = conn.execute(sa.text("SELECT revenant_link('slack', :team, :other)"),
                             {"team": team, "other": b.org.id}).scalar()
        conn.commit()
    assert moved == a.org.id  # the link function adds bindings, it never moves one
    assert pg_app.directory.bound_org("slack", team) == a.org.id
    with pytest.raises(ValidationError, match="already linked"):
        pg_app.directory.bind("slack", team, b.org.id)


def test_the_outbox_shows_other_orgs_only_as_due_org_ids(pg_app: App) -> None:
    a, b = new_org(pg_app), new_org(pg_app)
    declare(a)
    declare(b)
    assert {a.org.id, b.org.id} <= set(pg_app.outbox.due_orgs())
    with pg_app.engine.begin() as conn:
        conn.execute(sa.text("SELECT set_config('app.outbox_scan', 'on', true)"))  # the old switch does nothing
        conn.execute(sa.text("SELECT set_config('app.org_id', :org, true)"), {"org": a.org.id})
        seen = set(conn.execute(sa.text("SELECT org_id FROM outbox")).scalars())
    assert seen == {a.org.id}


def test_definer_functions_belong_to_the_directory_role_with_a_pinned_search_path(pg_app: App) -> None:
    with pg_app.engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT p.proname, r.rolname, p.prosecdef, p.proconfig FROM pg_proc p JOIN pg_roles r "
            "ON r.oid = p.proowner WHERE p.proname IN ('revenant_link', 'revenant_due_orgs', 'revenant_slack_bot', "
            "'revenant_slack_installation', 'revenant_slack_forget')")).all()
    assert len(rows) == 5
    for name, owner, definer, config in rows:
        assert owner == DIRECTORY_ROLE and definer, name
        assert any(c.startswith("search_path=") for c in config or []), name


@pytest.fixture
def login_role(pg_app: App) -> Iterator[str]:
    """A LOGIN role that is only a member of revenant_app, as docs/configuration.md sets one up."""
    name = f"revenant_web_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(normalize_url(ADMIN_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE ROLE {name} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT "
                             "IN ROLE revenant_app"))
    url = normalize_url(pg_app.settings.effective_database_url)
    head, _, tail = url.partition("@")
    yield head.rsplit("//", 1)[0] + f"//{name}@" + tail
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP OWNED BY {name}"))
        conn.execute(sa.text(f"DROP ROLE {name}"))
    admin.dispose()


def test_a_login_role_of_the_app_cannot_escape_with_reset_or_set_role(pg_app: App, login_role: str) -> None:
    org = new_org(pg_app)
    engine = make_engine(login_role)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("RESET ROLE"))  # what injected SQL would try first
            assert conn.execute(sa.text("SELECT current_user")).scalar() != "postgres"
            for role in ("postgres", DIRECTORY_ROLE):
                assert "permission denied" in probe(conn, f"SET ROLE {role}")
            for statement in FORBIDDEN:
                assert "permission denied" in probe(conn, statement, team="T0", other=org.org.id), statement
            conn.execute(sa.text("SELECT set_config('app.org_id', :org, true)"), {"org": org.org.id})
            assert conn.execute(sa.text("SELECT count(*) FROM incidents")).scalar() == 0
    finally:
        engine.dispose()
    with pytest.raises(psycopg.errors.InsufficientPrivilege):  # and it is not the owner: no DDL
        with psycopg.connect(login_role.replace("postgresql+psycopg", "postgresql"), autocommit=True) as raw:
            raw.execute("ALTER TABLE incidents DISABLE ROW LEVEL SECURITY")
