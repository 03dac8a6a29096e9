"""Replay guard: a signed request is accepted once; the same signature again is a replay."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from storage.engine import is_postgres
from storage.tables import SeenRequest

SEEN = SeenRequest.__table__  # type: ignore[attr-defined]
KEEP = timedelta(minutes=10)  # longer than the 5-minute signature window


class ReplayGuard:
    """Shared by every web process through the database (no in-memory state)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        dialect = postgresql if is_postgres(engine) else sqlite
        self._record = dialect.insert(SEEN).on_conflict_do_nothing().returning(SEEN.c.signature)

    def first_sight(self, signature: str, timestamp: int) -> bool:
        """Record the signature; False when it was already seen."""
        return self.first_sights([signature])[0]

    def first_sights(self, signatures: Sequence[str]) -> list[bool]:
        """Record many signatures in one transaction; for each, False when it was seen before
        (earlier, or earlier in this same list)."""
        now = datetime.now(UTC)
        keys = [s[:100] for s in signatures]
        unique = list(dict.fromkeys(keys))
        with self.engine.begin() as conn:
            fresh = set(conn.execute(self._record, [{"signature": k, "seen_at": now} for k in unique]).scalars())
        answers = []
        for key in keys:
            answers.append(key in fresh)
            fresh.discard(key)  # a second copy in the same list is a replay too
        if random.random() < 0.01 * len(keys):  # noqa: S311 — housekeeping sample, not security
            self.purge()
        return answers

    def purge(self) -> int:
        """Drop entries older than the window; returns how many."""
        with self.engine.begin() as conn:
            return int(conn.execute(SEEN.delete().where(SEEN.c.seen_at < datetime.now(UTC) - KEEP)).rowcount)
