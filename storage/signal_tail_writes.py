"""Writing a signal tail on SQLite (and in a rebuild): the statements PostgreSQL's revenant_append runs."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from storage.append_rules import LOGS, POINTS, RECENT, logs_upsert, recent_resolve, trim_points, trim_recent
from storage.engine import is_postgres
from storage.signal_tail import SignalTail

_LOG_UPSERTS: dict[str, Any] = {}


def project_tail(conn: Connection, tail: SignalTail) -> None:
    """Resolve, append and trim one incident's tail rows, in the order revenant_append does."""
    if not tail:
        return
    incident_id = tail.incident_id
    if tail.resolved:
        conn.execute(recent_resolve(incident_id, tail.resolved))
    if tail.recent:
        conn.execute(RECENT.insert(), list(tail.recent.values()))
        conn.execute(trim_recent(incident_id))
    if tail.points:
        conn.execute(POINTS.insert(), list(tail.points.values()))
        conn.execute(trim_points(incident_id))
    if tail.logs:
        conn.execute(_log_upsert(conn), list(tail.logs.values()))


def _log_upsert(conn: Connection) -> Any:
    dialect = "postgresql" if is_postgres(conn) else "sqlite"
    if dialect not in _LOG_UPSERTS:
        _LOG_UPSERTS[dialect] = logs_upsert((postgresql if dialect == "postgresql" else sqlite).insert(LOGS))
    return _LOG_UPSERTS[dialect]
