"""The floor a storm's writes are compared with: the same rows, written by plain batched INSERTs."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import psycopg

from bench.storm_cpu import cpu_seconds

# Every table an ingest writes to (the events, the projections, the outbox).
TABLES = ("events", "incidents", "incident_keys", "signals", "incident_recent_signals", "incident_metric_points",
          "incident_log_lines", "outbox")
BATCH = 500


@dataclass(frozen=True)
class RawInsert:
    rows: int
    seconds: float
    cpu: float  # this process + the backend


def raw_insert(url: str) -> RawInsert:
    """Copy every row of TABLES into empty twins (same columns, constraints and indexes) with batched INSERTs,
    committing each batch (a durable commit per BATCH rows, as a group commit would)."""
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn:
        data = {}
        for table in TABLES:
            exists = conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()
            if exists and exists[0]:
                cur = conn.execute(f"SELECT * FROM {table}")
                data[table] = ([d.name for d in cur.description or ()], cur.fetchall())
                conn.execute(f"CREATE TABLE raw_{table} (LIKE {table} INCLUDING ALL)")
        conn.commit()
        backend = conn.info.backend_pid
        cpu0 = cpu_seconds(os.getpid()) + cpu_seconds(backend)
        started = time.perf_counter()
        rows = 0
        for table, (columns, values) in data.items():
            sql = (f"INSERT INTO raw_{table} ({', '.join(columns)}) "
                   f"VALUES ({', '.join(['%s'] * len(columns))})")
            for i in range(0, len(values), BATCH):
                with conn.cursor() as cur:
                    cur.executemany(sql, [tuple(_adapt(v) for v in row) for row in values[i:i + BATCH]])
                conn.commit()
                rows += len(values[i:i + BATCH])
        seconds = time.perf_counter() - started
        cpu = cpu_seconds(os.getpid()) + cpu_seconds(backend) - cpu0
    return RawInsert(rows=rows, seconds=seconds, cpu=cpu)


def _adapt(value: object) -> object:
    from psycopg.types.json import Jsonb

    return Jsonb(value) if isinstance(value, dict | list) else value
