"""Shared helpers for benchmarks: a throwaway PostgreSQL database and percentile maths."""

from __future__ import annotations

import os
import statistics
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

ADMIN_URL = os.environ.get("REVENANT_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@contextmanager
def scratch_database(prefix: str) -> Iterator[str]:
    """Create a database, migrate it, yield its URL, drop it afterwards."""
    from storage.engine import make_engine
    from storage.migrate import upgrade

    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    owner = make_engine(url, app_role=None)
    upgrade(owner)
    owner.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (0–100) of values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
