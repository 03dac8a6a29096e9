"""Runbook sources read at a commit (GitHub through PyGithub, a local git checkout through git) and synced
into the org's knowledge incrementally by blob SHA: changed files re-indexed, deleted ones removed, renames
followed (same blob, new path), every section citing the file at the synced commit."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from incident_core.knowledge_sources import KnowledgeSource, SourceError, SyncReport
from knowledge.ingest import MARKDOWN_SUFFIXES

_GIT_TIMEOUT = 60


@dataclass(frozen=True)
class Snapshot:
    """A source folder at one commit: Markdown files (path inside the folder → blob SHA), how to read one,
    and the link to a file at that commit (None when the source has no web view)."""

    commit: str
    files: dict[str, str]
    read: Callable[[str], bytes]
    link: Callable[[str], str | None]


def _markdown(path: str) -> bool:
    pure = PurePosixPath(path)
    return pure.suffix.lower() in MARKDOWN_SUFFIXES and not any(p.startswith(".") for p in pure.parts)


def _inside(path: str, folder: str) -> str | None:
    """path relative to folder, or None when it is outside."""
    folder = folder.strip("/")
    if not folder:
        return path
    return path[len(folder) + 1 :] if path.startswith(folder + "/") else None


class GitHubReader:
    """Reads a repository folder at a ref through the GitHub REST API (contents listing carries blob SHAs)."""

    def __init__(self, *, api_url: str, token: str | None, timeout: int = 20) -> None:
        self._api_url = api_url.rstrip("/")
        self._token = token
        self._timeout = timeout

    def _client(self) -> Any:
        from github import Auth, Github

        auth = Auth.Token(self._token) if self._token else None
        return Github(auth=auth, base_url=self._api_url, timeout=self._timeout)

    def snapshot(self, source: KnowledgeSource) -> Snapshot:
        """The folder at the source's ref, resolved to a commit first so every read sees the same tree."""
        from github import GithubException

        try:
            repo = self._client().get_repo(source.location)
            commit = repo.get_commit(source.ref).sha
            files: dict[str, str] = {}
            pending = [source.path.strip("/")]
            while pending:
                listing = repo.get_contents(pending.pop(), ref=commit)
                for entry in listing if isinstance(listing, list) else [listing]:
                    if entry.type == "dir":
                        pending.append(entry.path)
                    elif entry.type == "file" and _markdown(entry.path):
                        rel = _inside(entry.path, source.path)
                        if rel is not None:
                            files[rel] = entry.sha
        except GithubException as exc:
            raise SourceError(f"GitHub {source.location}@{source.ref}: {exc.status} {exc.data}") from exc
        html = str(repo.html_url).rstrip("/")
        folder = source.path.strip("/")

        def full(rel: str) -> str:
            return f"{folder}/{rel}" if folder else rel

        def read(rel: str) -> bytes:
            return bytes(repo.get_contents(full(rel), ref=commit).decoded_content)

        return Snapshot(commit, files, read, lambda rel: f"{html}/blob/{commit}/{full(rel)}")


class GitCheckoutReader:
    """Reads a folder of a local git repository at a ref with git itself (ls-tree gives the blob SHAs)."""

    def _git(self, repo: str, *args: str) -> bytes:
        try:
            done = subprocess.run(["git", "-C", repo, *args], capture_output=True, timeout=_GIT_TIMEOUT, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SourceError(f"git in {repo}: {exc}") from exc
        if done.returncode != 0:
            raise SourceError(f"git {' '.join(args[:2])} in {repo}: {done.stderr.decode(errors='replace').strip()}")
        return done.stdout

    def snapshot(self, source: KnowledgeSource) -> Snapshot:
        """The folder at the source's ref (a branch, tag or commit of the checkout)."""
        repo = str(Path(source.location).expanduser())
        commit = self._git(repo, "rev-parse", "--verify", f"{source.ref}^{{commit}}").decode().strip()
        listing = self._git(repo, "ls-tree", "-r", "-z", "--full-tree", commit).decode("utf-8", errors="replace")
        files: dict[str, str] = {}
        for entry in filter(None, listing.split("\0")):
            meta, _, path = entry.partition("\t")
            _mode, kind, sha = meta.split()
            rel = _inside(path, source.path)
            if kind == "blob" and rel is not None and _markdown(path):
                files[rel] = sha
        blobs = dict(files)
        return Snapshot(commit, files, lambda rel: self._git(repo, "cat-file", "blob", blobs[rel]), lambda rel: None)


class KnowledgeSyncer:
    """SourceSyncer: reads a source with its reader and syncs the org's knowledge to it."""

    def __init__(self, kb: Any, *, github: GitHubReader | None, git: GitCheckoutReader | None = None) -> None:
        self._kb = kb
        self._github = github
        self._git = git or GitCheckoutReader()

    def sync(self, source: KnowledgeSource) -> SyncReport:
        """Bring the org's copy of the source to the source's current commit."""
        if source.kind == "github":
            if self._github is None:
                raise SourceError("GitHub sources need GITHUB_API_URL (and GITHUB_TOKEN for private repositories)")
            snapshot = self._github.snapshot(source)
        else:
            snapshot = self._git.snapshot(source)
        return self._kb.sync_snapshot(source.org_id, f"source:{source.source_id}", snapshot, project=source.project)

    def forget(self, source: KnowledgeSource) -> int:
        """Remove everything the source contributed to the org's knowledge; documents removed."""
        return int(self._kb.remove_root(source.org_id, f"source:{source.source_id}", project=source.project))
