"""Recorded steps of multi-step deliveries, and who is doing each delivery now.

Steps: a retry after a partial failure resumes where the last attempt stopped. Claims: one process at
a time works on a delivery; a claim is a lease that its holder renews while it works, and that another
process takes over once it lapses or, on the same host, once the holder's process is gone (kill -9).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from storage.delivery_tables import DeliveryClaimRow, DeliveryStepRow
from storage.engine import is_postgres, scope_to_org
from storage.pg_scoped import scoped_rows

STEPS = DeliveryStepRow.__table__  # type: ignore[attr-defined]
CLAIMS = DeliveryClaimRow.__table__  # type: ignore[attr-defined]
HOST = socket.gethostname()[:100]
log = logging.getLogger("revenant.delivery")


_PG_STEP = "SELECT value FROM delivery_steps WHERE org_id = %(org)s AND key = %(key)s AND step = %(step)s"
# The first record stands. Inserted: its value. Recorded before: the stored one (a record committed by another
# transaction after this statement's snapshot is not visible to it: then _PG_STEP reads it afterwards).
_PG_RECORD = ("WITH added AS (INSERT INTO delivery_steps (org_id, key, step, value, recorded_at) "
              "VALUES (%(org)s, %(key)s, %(step)s, %(value)s::jsonb, %(at)s) "
              "ON CONFLICT (org_id, key, step) DO NOTHING RETURNING value) "
              "SELECT value FROM added UNION ALL (" + _PG_STEP + ") LIMIT 1")
_PG_STEPS = "SELECT step, value FROM delivery_steps WHERE org_id = %(org)s AND key = %(key)s"
# A claim taken (inserted: this holder) or held (the stored holder), in one round trip; anything but this holder
# goes the long way (a live holder, or a lapsed one to take over). As with _PG_RECORD, a claim another transaction
# committed after this statement's snapshot is seen by neither half: no row, and the caller tries again.
_PG_TAKE = ("WITH added AS (INSERT INTO delivery_claims (org_id, key, holder, expires_at) "
            "VALUES (%(org)s, %(key)s, %(holder)s, %(expires)s) ON CONFLICT (org_id, key) DO NOTHING RETURNING holder) "
            "SELECT holder FROM added UNION ALL "
            "(SELECT holder FROM delivery_claims WHERE org_id = %(org)s AND key = %(key)s) LIMIT 1")
_PG_RELEASE = "DELETE FROM delivery_claims WHERE org_id = %(org)s AND key = %(key)s AND holder = %(holder)s"


def _insert(conn: Connection, table: sa.Table) -> Any:
    return postgresql.insert(table) if is_postgres(conn) else sqlite.insert(table)


class SqlDeliverySteps:
    """Steps by (org, delivery key); the first record of a step wins (a racing retry keeps the first value)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._pg = is_postgres(engine)

    def steps(self, org_id: str, key: str) -> dict[str, dict[str, Any]]:
        """Every recorded step of one delivery: step name → its value."""
        if self._pg:
            return {step: dict(value or {}) for step, value in
                    scoped_rows(self.engine, _PG_STEPS, {"org": org_id, "key": key[:200]})}
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            rows = conn.execute(sa.select(STEPS.c.step, STEPS.c.value).where(
                STEPS.c.org_id == org_id, STEPS.c.key == key[:200]))
            return {r.step: dict(r.value or {}) for r in rows}

    def record(self, org_id: str, key: str, step: str, value: dict[str, Any]) -> dict[str, Any]:
        """Record a step unless recorded before; returns the value that stands."""
        row = {"org_id": org_id, "key": key[:200], "step": step, "value": value, "recorded_at": datetime.now(UTC)}
        if self._pg:  # a room opening records six steps: one round trip each
            params = {"org": org_id, "key": key[:200], "step": step, "value": json.dumps(value),
                      "at": row["recorded_at"]}
            found = scoped_rows(self.engine, _PG_RECORD, params) or scoped_rows(self.engine, _PG_STEP, params)
            return dict(found[0][0])
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            conn.execute(_insert(conn, STEPS).values(row).on_conflict_do_nothing(
                index_elements=["org_id", "key", "step"]))
            stored = conn.execute(sa.select(STEPS.c.value).where(
                STEPS.c.org_id == org_id, STEPS.c.key == key[:200], STEPS.c.step == step)).scalar_one()
            return dict(stored)


def holder_alive(holder: str) -> bool:
    """False when `holder` ran on this host and its process is gone (or a zombie); True otherwise.

    Holders on other hosts cannot be checked from here: their lease decides.
    """
    parts = holder.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != HOST:
        return True
    try:
        pid = int(parts[1])
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (ValueError, PermissionError):
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True


class SqlDeliveryClaims:
    """Claims by (org, delivery key): a lease of `ttl` renewed every ttl/3 while held, released at the end."""

    def __init__(self, engine: Engine, *, ttl: float = 30.0, wait: float = 5.0) -> None:
        self.engine, self.ttl, self.wait = engine, ttl, wait
        self._pg = is_postgres(engine)

    @contextmanager
    def claim(self, org_id: str, key: str) -> Iterator[bool]:
        """Hold the claim for the block (True); waits up to `wait` seconds for a live holder, else False."""
        holder = f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        deadline = time.monotonic() + self.wait
        waited = False
        while not self._take(org_id, key[:200], holder):
            if not waited:
                log.info("delivery %s of org %s is held by another process; waiting up to %g s", key, org_id,
                         self.wait)
                waited = True
            if time.monotonic() >= deadline:
                yield False
                return
            time.sleep(0.2)
        stop = threading.Event()
        renewer = threading.Thread(target=self._renew_until, args=(org_id, key[:200], holder, stop),
                                   name=f"claim-{key[:40]}", daemon=True)
        renewer.start()
        try:
            yield True
        finally:
            stop.set()
            renewer.join(timeout=5)
            self._release(org_id, key[:200], holder)

    def holder(self, org_id: str, key: str) -> str | None:
        """Who holds the claim now (None when nobody does)."""
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            return conn.execute(sa.select(CLAIMS.c.holder).where(
                CLAIMS.c.org_id == org_id, CLAIMS.c.key == key[:200])).scalar()

    def _take(self, org_id: str, key: str, holder: str) -> bool:
        now = datetime.now(UTC)
        expires = now + timedelta(seconds=self.ttl)
        if self._pg:  # the usual case, a claim nobody holds, in one round trip
            held = scoped_rows(self.engine, _PG_TAKE, {"org": org_id, "key": key, "holder": holder,
                                                       "expires": expires})
            if not held:
                return False
            if held[0][0] == holder:
                return True
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            conn.execute(_insert(conn, CLAIMS).values(
                org_id=org_id, key=key, holder=holder, expires_at=expires).on_conflict_do_nothing(
                index_elements=["org_id", "key"]))
            row = conn.execute(sa.select(CLAIMS.c.holder, CLAIMS.c.expires_at).where(
                CLAIMS.c.org_id == org_id, CLAIMS.c.key == key)).first()
            if row is None:
                return False  # released between our insert and read: the next try inserts
            if row.holder == holder:
                return True
            lapsed = _aware(row.expires_at) <= now
            if not lapsed and holder_alive(row.holder):
                return False
            log.warning("taking over delivery %s of org %s from %s (%s)", key, org_id, row.holder,
                        "lease lapsed" if lapsed else "its process is gone")
            conn.execute(sa.update(CLAIMS).where(
                CLAIMS.c.org_id == org_id, CLAIMS.c.key == key, CLAIMS.c.holder == row.holder).values(
                holder=holder, expires_at=expires))
            return conn.execute(sa.select(CLAIMS.c.holder).where(
                CLAIMS.c.org_id == org_id, CLAIMS.c.key == key)).scalar() == holder

    def _renew_until(self, org_id: str, key: str, holder: str, stop: threading.Event) -> None:
        while not stop.wait(self.ttl / 3):
            try:
                with self.engine.begin() as conn:
                    scope_to_org(conn, org_id)
                    conn.execute(sa.update(CLAIMS).where(
                        CLAIMS.c.org_id == org_id, CLAIMS.c.key == key, CLAIMS.c.holder == holder).values(
                        expires_at=datetime.now(UTC) + timedelta(seconds=self.ttl)))
                    renewed = conn.execute(sa.select(CLAIMS.c.holder).where(
                        CLAIMS.c.org_id == org_id, CLAIMS.c.key == key)).scalar() == holder
            except Exception:  # noqa: BLE001 - a database blip: the next renewal tries again
                log.exception("could not renew the claim on delivery %s of org %s", key, org_id)
                continue
            if not renewed:
                log.warning("lost the claim on delivery %s of org %s (taken over after a lapse)", key, org_id)
                return

    def _release(self, org_id: str, key: str, holder: str) -> None:
        if self._pg:
            scoped_rows(self.engine, _PG_RELEASE, {"org": org_id, "key": key, "holder": holder})
            return
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            conn.execute(sa.delete(CLAIMS).where(CLAIMS.c.org_id == org_id, CLAIMS.c.key == key,
                                                 CLAIMS.c.holder == holder))


def _aware(moment: datetime) -> datetime:
    """SQLite returns naive UTC datetimes."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
