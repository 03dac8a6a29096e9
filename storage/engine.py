"""Engines for the embedded SQLite default and PostgreSQL, and per-transaction org scoping."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

APP_ROLE = "revenant_app"
_ROLE_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def is_postgres(engine: Engine | Connection) -> bool:
    return engine.dialect.name == "postgresql"


def normalize_url(url: str) -> str:
    """Accept postgres:// and postgresql:// and pin the psycopg 3 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def make_engine(url: str, *, app_role: str | None = APP_ROLE, pool_size: int = 10, readonly: bool = False) -> Engine:
    """Build an engine; on PostgreSQL every connection drops to the non-owner app role.

    Row-level security binds the app role (FORCE applies it to owners too); the migration
    engine passes app_role=None and keeps the owner's rights.
    """
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 60})
        _configure_sqlite(engine, immediate=not readonly)
        return engine
    engine = sa.create_engine(url, pool_size=pool_size, max_overflow=pool_size * 2, pool_pre_ping=False)
    if app_role:
        if not _ROLE_RE.match(app_role):
            raise ValueError(f"invalid PostgreSQL role name {app_role!r}")

        @event.listens_for(engine, "connect")
        def _set_role(dbapi_conn: Any, _record: Any) -> None:
            with dbapi_conn.cursor() as cur:
                cur.execute(f"SET SESSION ROLE {app_role}")
            dbapi_conn.commit()

    return engine


def _configure_sqlite(engine: Engine, *, immediate: bool) -> None:
    # pysqlite's own transaction handling is off; writers issue BEGIN IMMEDIATE so concurrent
    # writers queue on the database lock (busy_timeout) instead of failing to upgrade a read lock.
    # The read engine issues a plain (deferred) BEGIN: in WAL mode readers never wait for writers.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def scope_to_org(conn: Connection, org_id: str) -> None:
    """Bind this transaction to one org (PostgreSQL RLS reads app.org_id)."""
    if is_postgres(conn):
        conn.execute(sa.text("SELECT set_config('app.org_id', :org, true)"), {"org": org_id})
