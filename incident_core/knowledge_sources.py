"""Runbook sources kept in sync: the source model, its ports, and the use cases (standard library only)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


class SourceError(Exception):
    """A source that cannot be added, found or synced; the message is written for the operator."""


class SignatureInvalid(SourceError):
    """A push webhook whose X-Hub-Signature-256 does not match the source's secret."""


@dataclass(frozen=True)
class KnowledgeSource:
    """Where an org's runbooks live: a GitHub repository or a local git checkout, a folder and a ref."""

    org_id: str
    source_id: str
    kind: str  # github | git
    location: str  # OWNER/REPO, or the checkout's directory
    path: str
    ref: str
    secret: str
    project: str | None = None
    last_commit: str | None = None
    last_synced_at: datetime | None = None
    last_error: str | None = None

    def describe(self) -> str:
        """One line for people: 'github acme/runbooks:runbooks/@main'."""
        return f"{self.kind} {self.location}:{self.path or '/'}@{self.ref}"


@dataclass(frozen=True)
class SyncReport:
    """What one sync did, in files; `commit` is the commit now indexed."""

    commit: str | None = None
    added: int = 0
    updated: int = 0
    removed: int = 0
    renamed: int = 0
    unchanged: int = 0
    skipped: str = ""  # why nothing was done (another process holds the source), else empty

    def summary(self) -> str:
        """One line for people."""
        if self.skipped:
            return f"skipped: {self.skipped}"
        return (f"at {(self.commit or '?')[:12]}: {self.added} added, {self.updated} updated, {self.renamed} renamed, "
                f"{self.removed} removed, {self.unchanged} unchanged")


class SourceStore(Protocol):
    """Persistence of sources (storage/knowledge_sources.py)."""

    def get(self, org_id: str, source_id: str) -> KnowledgeSource | None: ...

    def record(self, org_id: str, source_id: str, *, commit: str | None, error: str | None,
               at: datetime) -> None: ...

    def try_lock(self, org_id: str, source_id: str) -> AbstractContextManager[bool]: ...


class SourceSyncer(Protocol):
    """Reads a source and brings the org's knowledge up to date with it (knowledge/sources.py)."""

    def sync(self, source: KnowledgeSource) -> SyncReport: ...


def sync_source(*, sources: SourceStore, syncer: SourceSyncer, org_id: str, source_id: str,
                now: Callable[[], datetime]) -> SyncReport:
    """Sync one source of the org, once at a time across processes; the outcome is recorded either way."""
    source = sources.get(org_id, source_id)
    if source is None:
        raise SourceError(f"no source {source_id} in this org; 'revenant knowledge source list --org ORG' shows them")
    with sources.try_lock(org_id, source_id) as held:
        if not held:
            return SyncReport(commit=source.last_commit, skipped="another process is syncing this source")
        try:
            report = syncer.sync(source)
        except Exception as exc:
            sources.record(org_id, source_id, commit=None, error=f"{type(exc).__name__}: {exc}", at=now())
            raise
        sources.record(org_id, source_id, commit=report.commit, error=None, at=now())
        return report


def verify_push(*, sources: SourceStore, org_id: str, source_id: str, body: bytes,
                signature: str) -> KnowledgeSource:
    """The source a GitHub push webhook is for, when X-Hub-Signature-256 is the HMAC of the body with its
    secret; SignatureInvalid otherwise (also for an unknown source, so ids cannot be probed)."""
    source = sources.get(org_id, source_id) if org_id and source_id else None
    expected = "sha256=" + hmac.new((source.secret if source else "").encode(), body, hashlib.sha256).hexdigest()
    if source is None or not hmac.compare_digest(expected, signature or ""):
        raise SignatureInvalid("the X-Hub-Signature-256 header does not match this source's webhook secret")
    return source
