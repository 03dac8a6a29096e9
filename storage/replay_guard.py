"""Replay guard: a signed request is accepted once; the same signature again is a replay."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from storage.tables import SeenRequest

SEEN = SeenRequest.__table__  # type: ignore[attr-defined]
KEEP = timedelta(minutes=10)  # longer than the 5-minute signature window


class ReplayGuard:
    """Shared by every web process through the database (no in-memory state)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def first_sight(self, signature: str, timestamp: int) -> bool:
        """Record the signature; False when it was already seen."""
        now = datetime.now(UTC)
        try:
            with self.engine.begin() as conn:
                conn.execute(SEEN.insert().values(signature=signature[:100], seen_at=now))
        except IntegrityError:
            return False
        if random.random() < 0.01:  # noqa: S311 — housekeeping sample, not security
            with self.engine.begin() as conn:
                conn.execute(SEEN.delete().where(SEEN.c.seen_at < now - KEEP))
        return True

    def purge(self) -> int:
        """Drop entries older than the window; returns how many."""
        with self.engine.begin() as conn:
            return int(conn.execute(SEEN.delete().where(SEEN.c.seen_at < datetime.now(UTC) - KEEP)).rowcount)
