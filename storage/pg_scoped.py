"""One org-scoped statement in one round trip on PostgreSQL: the org bound and the statement run in one message.

SQLAlchemy's way is BEGIN, the org's set_config, the statement and COMMIT: four round trips and a statement built
per call. Here fixed SQL text (psycopg's %(name)s style, bound on the client) follows the org's binding in one
simple-query message, which PostgreSQL runs as one implicit transaction (as storage/pg_append.py sends appends).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from storage.pg_append import _simple_query

_BIND = "SELECT set_config('app.org_id', %(org)s, true); "


def scoped_rows(engine: Engine, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Run `sql` for the org `params["org"]` as one implicit transaction; the rows of its last statement."""
    with engine.begin() as conn:
        cur = _simple_query(conn.connection.dbapi_connection, _BIND + sql, params, own_transaction=True)
        try:
            while cur.nextset():
                pass
            return list(cur.fetchall()) if cur.description is not None else []
        finally:
            cur.close()
