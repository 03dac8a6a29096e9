"""Engines for the embedded SQLite default and PostgreSQL, and per-transaction org scoping."""

from __future__ import annotations

import re
import time
from typing import Any

import psycopg
import sqlalchemy as sa
import sqlalchemy.exc as sa_exc
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import QueuePool

from storage.db_errors import is_unavailable, unavailable
from storage.pg_watchdog import Watchdog, watched_connection

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


DEFAULT_TIMEOUT = 2.0  # seconds: connecting, waiting for a pooled connection, spotting a frozen server
DEFAULT_STATEMENT_TIMEOUT = 5.0  # seconds a statement (or a lock wait) of the app may take on a live server
IDLE_IN_TRANSACTION_MS = 60_000
PING_AFTER_IDLE = 1.0  # seconds in the pool after which a connection is pinged before use  # a session abandoned inside a transaction releases its locks after this


class BoundedPool(QueuePool):
    """A QueuePool whose wait for a free connection ends in StoreUnavailable (every path maps that to 503)."""

    def _do_get(self) -> Any:
        try:
            return super()._do_get()
        except sa_exc.TimeoutError as exc:
            raise unavailable(exc) from exc


def make_engine(url: str, *, app_role: str | None = APP_ROLE, pool_size: int = 10, readonly: bool = False,
                timeout: float = DEFAULT_TIMEOUT, statement_timeout: float | None = DEFAULT_STATEMENT_TIMEOUT,
                watchdog: Watchdog | None = None) -> Engine:
    """Build an engine; on PostgreSQL every connection drops to the non-owner app role.

    Row-level security binds the app role (FORCE applies it to owners too); the migration
    engine passes app_role=None, keeps the owner's rights and has no statement timeout.
    On PostgreSQL a dead or frozen server costs any caller about `timeout` seconds, never more:
    connecting times out, the pool stops waiting, pooled connections idle for a second are pinged before use, a
    watchdog cuts connections stuck on a server that no longer answers (storage/pg_watchdog.py),
    and every such failure is raised as StoreUnavailable.
    """
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 60})
        _configure_sqlite(engine, immediate=not readonly)
        return engine
    settings = [f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_MS}"]
    if app_role and statement_timeout:
        ms = int(statement_timeout * 1000)
        settings += [f"-c statement_timeout={ms}", f"-c lock_timeout={ms}"]
    dog = watchdog or Watchdog(stall=timeout / 2, probe_timeout=timeout / 2)
    engine = sa.create_engine(
        url, poolclass=BoundedPool, pool_size=pool_size, max_overflow=pool_size * 2, pool_timeout=timeout,
        connect_args={"connect_timeout": max(2, round(timeout)), "options": " ".join(settings)})
    connection_class = watched_connection(dog)
    _pre_ping_when_idle(engine)

    @event.listens_for(engine, "do_connect")
    def _connect(_dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        host, port = str(cparams.get("host") or ""), int(cparams.get("port") or 5432)
        if host and dog.silent(host, port):  # it just failed a probe: do not wait for connect_timeout again
            raise psycopg.OperationalError(f"PostgreSQL at {host}:{port} did not answer a moment ago")
        return connection_class.connect(*cargs, **cparams)

    @event.listens_for(engine, "handle_error")
    def _translate(ctx: Any) -> BaseException | None:
        error = ctx.original_exception
        if ctx.is_disconnect or is_unavailable(error):
            return unavailable(error)
        return None

    if app_role:
        if not _ROLE_RE.match(app_role):
            raise ValueError(f"invalid PostgreSQL role name {app_role!r}")

        @event.listens_for(engine, "connect")
        def _set_role(dbapi_conn: Any, _record: Any) -> None:
            with dbapi_conn.cursor() as cur:
                cur.execute(f"SET SESSION ROLE {app_role}")
            dbapi_conn.commit()

    return engine


def _pre_ping_when_idle(engine: Engine) -> None:
    """pool_pre_ping, for connections that sat in the pool: a connection checked in less than
    PING_AFTER_IDLE seconds ago is handed out as it is, so a burst pays no extra round trip per
    transaction (SQLAlchemy's own pre-ping pings every checkout: 2.8 ms instead of 0.8 ms for a
    one-statement transaction here). A ping that fails (or that the watchdog cuts) discards the
    connection and the pool opens another."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:  # noqa: BLE001 - any failure means: not this connection
            raise sa_exc.DisconnectionError(str(exc)) from exc
        if not alive:
            raise sa_exc.DisconnectionError("the pooled connection did not answer its ping")


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


# psycopg's own parameter style, sent as is: no statement construction, compilation or cache key per call
_SCOPE_SQL = "SELECT set_config('app.org_id', %(org)s, true)"


def scope_to_org(conn: Connection, org_id: str) -> None:
    """Bind this transaction to one org (PostgreSQL RLS reads app.org_id)."""
    if is_postgres(conn):
        conn.exec_driver_sql(_SCOPE_SQL, {"org": org_id})
