"""One org-scoped statement in one round trip on PostgreSQL: the org bound and the statement run in one message.

SQLAlchemy's way is BEGIN, the org's set_config, the statement and COMMIT: four round trips and a statement built
per call. Here fixed SQL text (psycopg's %(name)s style, bound on the client) follows the org's binding in one
simple-query message, which PostgreSQL runs as one implicit transaction (as storage/pg_append.py sends appends).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from sqlalchemy.engine import Engine

from storage.db_errors import is_unavailable, unavailable
from storage.pg_append import simple_query

BIND_ORG = "SELECT set_config('app.org_id', %(org)s, true); "  # the org `params["org"]`, for this transaction


@contextmanager
def driver_errors() -> Iterator[None]:
    """psycopg's own errors (SQLAlchemy's handler never sees driver-level calls): a database that is down, frozen
    or gone becomes StoreUnavailable, as on SQLAlchemy's path (storage/engine.py)."""
    try:
        yield
    except psycopg.Error as exc:
        if is_unavailable(exc):
            raise unavailable(exc) from exc
        raise


def scoped_rows(engine: Engine, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Run `sql` for the org `params["org"]` as one implicit transaction; the rows of its last statement."""
    with driver_errors(), engine.begin() as conn:
        cur = simple_query(conn.connection.dbapi_connection, BIND_ORG + sql, params, own_transaction=True)
        try:
            while cur.nextset():
                pass
            return list(cur.fetchall()) if cur.description is not None else []
        finally:
            cur.close()
