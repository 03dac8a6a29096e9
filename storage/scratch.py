"""Throwaway PostgreSQL databases for tests and benchmarks: create, migrate, drop."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from storage.engine import make_engine, normalize_url
from storage.migrate import upgrade


def admin_engine(admin_url: str) -> sa.engine.Engine:
    """An autocommit engine on the maintenance database (CREATE/DROP DATABASE need it)."""
    return sa.create_engine(normalize_url(admin_url), isolation_level="AUTOCOMMIT")


@contextmanager
def scratch_database(admin_url: str, prefix: str) -> Iterator[str]:
    """Create a uniquely named database next to `admin_url`, migrate it, yield its URL, drop it."""
    admin = admin_engine(admin_url)
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = normalize_url(admin_url).rsplit("/", 1)[0] + f"/{name}"
        owner = make_engine(url, app_role=None)
        upgrade(owner)
        owner.dispose()
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
