"""Runbook sources of an org (GitHub repositories, local git checkouts) and their sync state (tenant table)."""

from __future__ import annotations

import secrets
import threading
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Field, SQLModel

from incident_core.knowledge_sources import KnowledgeSource, SourceError
from storage.engine import is_postgres, scope_to_org
from storage.tables import TZ

KINDS = ("github", "git")


class KnowledgeSourceRow(SQLModel, table=True):
    """One source: where the runbooks live, which folder and ref, the webhook secret, the last sync."""

    __tablename__ = "knowledge_sources"
    org_id: str = Field(foreign_key="organizations.id", primary_key=True, max_length=64)
    source_id: str = Field(primary_key=True, max_length=32)
    kind: str = Field(max_length=10)
    location: str = Field(max_length=500)
    path: str = Field(default="", max_length=500)
    ref: str = Field(default="main", max_length=200)
    secret: str = Field(max_length=100)
    project: str = Field(default="", max_length=100)
    last_commit: str | None = Field(default=None, max_length=64)
    last_synced_at: datetime | None = Field(default=None, sa_type=TZ)
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(sa_type=TZ)


SOURCES = KnowledgeSourceRow.__table__  # type: ignore[attr-defined]


def _source(row: sa.Row) -> KnowledgeSource:
    return KnowledgeSource(
        org_id=row.org_id, source_id=row.source_id, kind=row.kind, location=row.location, path=row.path,
        ref=row.ref, secret=row.secret, project=row.project or None, last_commit=row.last_commit,
        last_synced_at=row.last_synced_at, last_error=row.last_error)


class SqlKnowledgeSources:
    """The SourceStore port over SQL; every statement is scoped to its org (RLS is the second wall)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._local_locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def add(self, org_id: str, *, kind: str, location: str, path: str = "", ref: str = "main",
            project: str | None = None, secret: str | None = None) -> KnowledgeSource:
        """Register a source (one per org, location, path and ref); its webhook secret is generated if not given."""
        if kind not in KINDS:
            raise SourceError(f"unknown source kind {kind!r}: use github or git")
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            same = conn.execute(sa.select(SOURCES).where(
                SOURCES.c.org_id == org_id, SOURCES.c.kind == kind, SOURCES.c.location == location,
                SOURCES.c.path == path, SOURCES.c.ref == ref)).first()
            if same is not None:
                return _source(same)
            values = {"org_id": org_id, "source_id": "src-" + secrets.token_hex(4), "kind": kind,
                      "location": location, "path": path, "ref": ref, "project": project or "",
                      "secret": secret or secrets.token_urlsafe(24), "created_at": datetime.now(UTC)}
            conn.execute(SOURCES.insert().values(**values))
            row = conn.execute(sa.select(SOURCES).where(SOURCES.c.org_id == org_id,
                                                        SOURCES.c.source_id == values["source_id"])).one()
            return _source(row)

    def list_sources(self, org_id: str) -> list[KnowledgeSource]:
        """The org's sources, oldest first."""
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            rows = conn.execute(sa.select(SOURCES).where(SOURCES.c.org_id == org_id)
                                .order_by(SOURCES.c.created_at, SOURCES.c.source_id)).all()
        return [_source(r) for r in rows]

    def get(self, org_id: str, source_id: str) -> KnowledgeSource | None:
        """One source of the org, or None (another org's source is None too)."""
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            row = conn.execute(sa.select(SOURCES).where(SOURCES.c.org_id == org_id,
                                                        SOURCES.c.source_id == source_id)).first()
        return _source(row) if row is not None else None

    def remove(self, org_id: str, source_id: str) -> bool:
        """Forget a source; True when the org had it."""
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            return bool(conn.execute(SOURCES.delete().where(SOURCES.c.org_id == org_id,
                                                            SOURCES.c.source_id == source_id)).rowcount)

    def record(self, org_id: str, source_id: str, *, commit: str | None, error: str | None, at: datetime) -> None:
        """Record a sync: the commit now indexed (kept on failure) and the error, if any."""
        values: dict[str, object] = {"last_synced_at": at, "last_error": (error or None) and error[:500]}
        if commit is not None:
            values["last_commit"] = commit
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            conn.execute(SOURCES.update().where(SOURCES.c.org_id == org_id, SOURCES.c.source_id == source_id)
                         .values(**values))

    def orgs_with_sources(self) -> list[str]:
        """Orgs that have at least one source (PostgreSQL: through the SELECT-only scan policy)."""
        with self.engine.begin() as conn:
            if is_postgres(conn):
                conn.execute(sa.text("SELECT set_config('app.source_scan', 'on', true)"))
            return [r[0] for r in conn.execute(sa.select(SOURCES.c.org_id).distinct().order_by(SOURCES.c.org_id))]

    def try_lock(self, org_id: str, source_id: str) -> SyncLock:
        """A lock one thread of one process holds for a source while it syncs (a lock in this process, plus a
        PostgreSQL advisory lock across processes); entering it says whether it was taken."""
        key = f"{org_id}/{source_id}"
        with self._guard:
            local = self._local_locks.setdefault(key, threading.Lock())
        return SyncLock(self.engine, key, local)


class SyncLock:
    """Non-blocking: a thread lock in this process, then a session-level advisory lock on PostgreSQL."""

    def __init__(self, engine: Engine, key: str, local: threading.Lock) -> None:
        self._engine = engine
        self._key = key
        self._local = local
        self._conn: sa.Connection | None = None
        self._held = False
        self._local_held = False

    def __enter__(self) -> bool:
        self._local_held = self._local.acquire(blocking=False)
        if not self._local_held or self._engine.dialect.name != "postgresql":
            return self._local_held
        self._conn = self._engine.connect()
        self._held = bool(self._conn.execute(sa.text("SELECT pg_try_advisory_lock(hashtextextended(:k, 16))"),
                                             {"k": self._key}).scalar())
        self._conn.commit()
        return self._held

    def __exit__(self, *exc: object) -> None:
        if self._conn is not None:
            if self._held:
                self._conn.execute(sa.text("SELECT pg_advisory_unlock(hashtextextended(:k, 16))"), {"k": self._key})
                self._conn.commit()
            self._conn.close()
        if self._local_held:
            self._local.release()
