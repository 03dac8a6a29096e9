"""Alembic, run programmatically: `revenant db upgrade` and the embedded self-upgrade."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

from storage.engine import APP_ROLE

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine, *, app_role: str = APP_ROLE) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    cfg.attributes["app_role"] = app_role
    return cfg


def upgrade(engine: Engine, *, revision: str = "heads", app_role: str = APP_ROLE) -> None:
    """Bring the schema (and on PostgreSQL the app role and its policies) up to `revision`.

    "heads" (the default) applies every branch, so migrations written in parallel on separate
    branches all apply; merge them into one head when convenient.
    """
    command.upgrade(alembic_config(engine, app_role=app_role), revision)


def current(engine: Engine) -> str | None:
    """The applied revision(s), comma-separated, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        heads = MigrationContext.configure(conn).get_current_heads()
    return ", ".join(sorted(heads)) or None
