"""Readiness of the database: one short round trip through the app's own pool."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine


def ping(engine: Engine) -> str:
    """Run SELECT 1; returns the dialect name, raises (StoreUnavailable on PostgreSQL) when it cannot."""
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))
    return engine.dialect.name
