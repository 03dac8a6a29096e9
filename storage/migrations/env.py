"""Alembic environment: the engine arrives through config.attributes (no URL in an ini file)."""

from __future__ import annotations

from alembic import context

from storage.tables import SQLModel

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    engine = config.attributes["engine"]
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=connection.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
