"""Alembic, run programmatically: `revenant db upgrade` and the embedded self-upgrade."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

from storage.engine import APP_ROLE

MIGRATIONS = Path(__file__).parent / "migrations"
MIGRATION_LOCK = 0x52564D47  # "RVMG": the advisory lock key every `revenant db upgrade` takes


def alembic_config(engine: Engine, *, app_role: str = APP_ROLE) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    cfg.attributes["app_role"] = app_role
    return cfg


def upgrade(engine: Engine, *, revision: str = "heads", app_role: str = APP_ROLE) -> None:
    """Bring the schema (and on PostgreSQL the app role and its policies) up to `revision`.

    "heads" (the default) applies every branch, so migrations written in parallel on separate
    branches all apply; merge them into one head when convenient. Processes upgrading at once take
    turns (a lock around the whole upgrade): the later ones find the schema current and do nothing.
    """
    with migration_lock(engine):
        command.upgrade(alembic_config(engine, app_role=app_role), revision)


@contextmanager
def migration_lock(engine: Engine) -> Iterator[None]:
    """Hold the migration lock: a session advisory lock on PostgreSQL, a lock file beside a SQLite file."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:  # no open transaction
            conn.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
            try:
                yield
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
        return
    database = engine.url.database
    if not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def current(engine: Engine) -> str | None:
    """The applied revision(s), comma-separated, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        heads = MigrationContext.configure(conn).get_current_heads()
    return ", ".join(sorted(heads)) or None
