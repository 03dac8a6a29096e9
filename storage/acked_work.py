"""Acknowledged chat requests, recorded with their replay check and worked once by any process.

`record` is the replay check and the record of what is being acknowledged, in one transaction (on
PostgreSQL one statement): a request is acknowledged only once both are committed. `claim` leases
unworked rows to this process (`FOR UPDATE SKIP LOCKED`, so processes never wait on each other);
a process killed while holding a lease loses it when the lease runs out, and the next claim, by
any process, takes the row over. Working a row twice is possible only in that case (a crash
between the work and `finish`), and the work itself is idempotent (its idempotency keys are
derived from the recorded request).
"""

from __future__ import annotations

import json
import os
import random
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection, Engine

from storage.engine import is_postgres
from storage.replay_guard import SEEN, ReplayGuard
from storage.tables import AckedRequest

ACKED = AckedRequest.__table__  # type: ignore[attr-defined]
DEFAULT_LEASE = 30.0  # seconds a claim holds without renewal; a killed process's claims return after this
MAX_ATTEMPTS = 5  # then the row is finished with its last error (logged), not retried forever
KEEP_DONE = timedelta(hours=24)  # worked rows are kept a day for inspection

_PG_RECORD = sa.text("""
WITH incoming AS (
  SELECT * FROM jsonb_to_recordset(CAST(:rows AS jsonb))
    AS r(request_key text, platform text, mode text, body text, headers jsonb)
), seen AS (
  INSERT INTO seen_requests (signature, seen_at) SELECT request_key, :now FROM incoming
  ON CONFLICT DO NOTHING RETURNING signature
)
INSERT INTO acked_requests (request_key, platform, mode, body, headers, received_at, lease_owner, lease_until,
                            attempts)
SELECT i.request_key, i.platform, i.mode, i.body, i.headers, :now, :owner, :until, 0
FROM incoming i JOIN seen s ON s.signature = i.request_key
ON CONFLICT (request_key) DO NOTHING
RETURNING id, request_key
""")


@dataclass(frozen=True)
class Arrival:
    """A verified request about to be acknowledged; `key` is its replay key (the signature, or a digest)."""

    key: str
    platform: str
    body: str
    headers: dict[str, str] = field(default_factory=dict)
    mode: str = "http"


@dataclass(frozen=True)
class AckedItem:
    """A recorded request leased to this process."""

    id: int
    key: str
    platform: str
    mode: str
    body: str
    headers: dict[str, Any]
    attempts: int


def process_owner() -> str:
    """A lease owner name unique to this process (host, pid and a random part)."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class AckedWork:
    """The durable queue of acknowledged requests (one table, shared by every process)."""

    def __init__(self, engine: Engine, *, owner: str | None = None, lease: float = DEFAULT_LEASE) -> None:
        self.engine = engine
        self.owner = owner or process_owner()
        self.lease = timedelta(seconds=lease)

    # --- the acknowledgement path -----------------------------------------------------------
    def record(self, arrivals: Sequence[Arrival], *, claim: bool = False) -> list[int | None]:
        """Replay check and record in one transaction; the row id for each new request, None for a replay
        (seen earlier, or earlier in this same list). With `claim`, the new rows are leased to this process."""
        now = datetime.now(UTC)
        rows: dict[str, dict[str, Any]] = {}
        for a in arrivals:
            key = a.key[:100]
            rows.setdefault(key, {"request_key": key, "platform": a.platform, "mode": a.mode,
                                  "body": a.body.replace("\x00", "\ufffd"), "headers": a.headers})
        owner, until = (self.owner, now + self.lease) if claim else (None, None)
        with self.engine.begin() as conn:
            if is_postgres(conn):
                result = conn.execute(_PG_RECORD, {"rows": json.dumps(list(rows.values())), "now": now,
                                                   "owner": owner, "until": until})
                ids = {str(key): int(row_id) for row_id, key in result}
            else:
                ids = self._record_sqlite(conn, list(rows.values()), now, owner, until)
        answers: list[int | None] = []
        for a in arrivals:
            answers.append(ids.pop(a.key[:100], None))  # a second copy in the same list is a replay too
        if random.random() < 0.01 * len(arrivals):  # noqa: S311 — housekeeping sample, not security
            self.purge()
        return answers

    @staticmethod
    def _record_sqlite(conn: Connection, rows: list[dict[str, Any]], now: datetime, owner: str | None,
                       until: datetime | None) -> dict[str, int]:
        seen = sqlite.insert(SEEN).on_conflict_do_nothing().returning(SEEN.c.signature)
        fresh = set(conn.execute(seen, [{"signature": r["request_key"], "seen_at": now} for r in rows]).scalars())
        ids: dict[str, int] = {}
        for row in rows:
            if row["request_key"] in fresh:
                ids[row["request_key"]] = int(conn.execute(ACKED.insert().returning(ACKED.c.id), {
                    **row, "received_at": now, "lease_owner": owner, "lease_until": until, "attempts": 0}).scalar_one())
        return ids

    # --- the workers ----------------------------------------------------------------------------
    def claim(self, limit: int = 10, platforms: Sequence[str] | None = None) -> list[AckedItem]:
        """Lease up to `limit` unworked rows (of these platforms) whose lease is free or ran out, oldest first."""
        now = datetime.now(UTC)
        free = (sa.select(ACKED.c.id)
                .where(ACKED.c.done_at.is_(None), sa.or_(ACKED.c.lease_until.is_(None), ACKED.c.lease_until < now),
                       ACKED.c.platform.in_(list(platforms)) if platforms is not None else sa.true())
                .order_by(ACKED.c.id).limit(limit).with_for_update(skip_locked=True))
        stmt = (ACKED.update().where(ACKED.c.id.in_(free.scalar_subquery()))
                .values(lease_owner=self.owner, lease_until=now + self.lease, attempts=ACKED.c.attempts + 1)
                .returning(ACKED.c.id, ACKED.c.request_key, ACKED.c.platform, ACKED.c.mode, ACKED.c.body,
                           ACKED.c.headers, ACKED.c.attempts))
        with self.engine.begin() as conn:
            items = [AckedItem(*row) for row in conn.execute(stmt).tuples()]
        return sorted(items, key=lambda item: item.id)

    def renew(self, ids: Sequence[int]) -> None:
        """Extend this process's leases on rows it is still working."""
        if not ids:
            return
        with self.engine.begin() as conn:
            conn.execute(ACKED.update().where(ACKED.c.id.in_(list(ids)), ACKED.c.lease_owner == self.owner,
                                              ACKED.c.done_at.is_(None))
                         .values(lease_until=datetime.now(UTC) + self.lease))

    def finish(self, item_id: int, error: str | None = None) -> None:
        """Mark a row worked (with the error it ended on, if any)."""
        with self.engine.begin() as conn:
            conn.execute(ACKED.update().where(ACKED.c.id == item_id, ACKED.c.done_at.is_(None))
                         .values(done_at=datetime.now(UTC), lease_until=None, error=error[:500] if error else None))

    def retry_later(self, item_id: int, attempts: int, error: str) -> bool:
        """After a failed attempt (the `attempts`-th): free it again after a backoff, or finish it once
        attempts run out. Returns True when it will be retried."""
        if attempts >= MAX_ATTEMPTS:
            self.finish(item_id, f"gave up after {attempts} attempts: {error}")
            return False
        backoff = timedelta(seconds=min(2 ** attempts, 60))
        with self.engine.begin() as conn:
            conn.execute(ACKED.update().where(ACKED.c.id == item_id, ACKED.c.done_at.is_(None))
                         .values(lease_owner=None, lease_until=datetime.now(UTC) + backoff, error=error[:500]))
        return True

    # --- inspection and housekeeping ------------------------------------------------------------
    def pending(self) -> int:
        """How many recorded requests are not worked yet."""
        with self.engine.begin() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(ACKED)
                                    .where(ACKED.c.done_at.is_(None))).scalar_one())

    def backlog(self) -> list[tuple[str, int, datetime | None]]:
        """(platform, requests not worked yet, when the oldest arrived) for every platform with any waiting."""
        query = (sa.select(ACKED.c.platform, sa.func.count(), sa.func.min(ACKED.c.received_at))
                 .where(ACKED.c.done_at.is_(None)).group_by(ACKED.c.platform))
        with self.engine.begin() as conn:
            return [(str(p), int(n), _utc(oldest)) for p, n, oldest in conn.execute(query)]

    def purge(self) -> int:
        """Drop worked rows older than a day and replay-check entries older than their window."""
        with self.engine.begin() as conn:
            gone = conn.execute(ACKED.delete().where(ACKED.c.done_at < datetime.now(UTC) - KEEP_DONE)).rowcount
        ReplayGuard(self.engine).purge()
        return int(gone)


def _utc(value: datetime | None) -> datetime | None:
    """SQLite hands timestamps back naive (they were stored in UTC)."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value
