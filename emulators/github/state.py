"""In-memory git repositories: blobs, commits, refs and pull requests with real-looking SHAs."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime


def blob_sha(content: bytes) -> str:
    """The git blob SHA-1 of `content` (same as `git hash-object`)."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()  # noqa: S324 - git's hash


@dataclass
class Commit:
    """A commit: a full path → blob tree snapshot plus metadata."""

    sha: str
    tree: dict[str, str]
    parents: list[str]
    message: str
    author_name: str
    author_email: str
    date: str

    @property
    def tree_sha(self) -> str:
        """A stable SHA for the tree snapshot."""
        listing = "".join(f"{path}\0{sha}\n" for path, sha in sorted(self.tree.items()))
        return hashlib.sha1(b"tree " + listing.encode()).hexdigest()  # noqa: S324


@dataclass
class PullRequest:
    """A pull request between two branches of one repository."""

    number: int
    id: int
    title: str
    body: str | None
    head: str
    base: str
    user: str
    created_at: str
    updated_at: str
    draft: bool = False
    state: str = "open"
    maintainer_can_modify: bool = False
    labels: list[str] = field(default_factory=list)
    closed_at: str | None = None


@dataclass
class Repo:
    """A repository: refs (refs/heads/...), pull requests and labels."""

    id: int
    owner: str
    name: str
    default_branch: str
    private: bool
    description: str
    created_at: str
    refs: dict[str, str] = field(default_factory=dict)
    pulls: list[PullRequest] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        """owner/name."""
        return f"{self.owner}/{self.name}"

    def branch_sha(self, branch: str) -> str | None:
        """Head commit of a branch, or None."""
        return self.refs.get(f"refs/heads/{branch}")


class GitHubState:
    """Repositories, the object store and id counters."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.repos: dict[tuple[str, str], Repo] = {}
        self.commits: dict[str, Commit] = {}
        self.blobs: dict[str, bytes] = {}
        self._ids = itertools.count(1001)

    def next_id(self) -> int:
        """A fresh numeric id."""
        return next(self._ids)

    def iso_now(self) -> str:
        """Current time in GitHub's ISO-8601 form."""
        return datetime.fromtimestamp(self.clock(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def repo(self, owner: str, name: str) -> Repo | None:
        """A repository by owner and name (case-insensitive like GitHub)."""
        return self.repos.get((owner.lower(), name.lower()))

    def commit(
        self,
        parent: str | None,
        changes: dict[str, bytes | None],
        message: str,
        author: tuple[str, str] = ("Runbook Revenant", "revenant@users.noreply.github.com"),
    ) -> Commit:
        """Create a commit on top of `parent` that writes `changes` (None deletes the path)."""
        tree = dict(self.commits[parent].tree) if parent else {}
        for path, content in changes.items():
            if content is None:  # a deletion
                tree.pop(path, None)
                continue
            sha = blob_sha(content)
            self.blobs[sha] = content
            tree[path] = sha
        date = self.iso_now()
        seed = f"{parent}\n{sorted(tree.items())}\n{message}\n{date}\n{self.next_id()}"
        sha = hashlib.sha1(b"commit " + seed.encode()).hexdigest()  # noqa: S324
        commit = Commit(sha, tree, [parent] if parent else [], message, author[0], author[1], date)
        self.commits[sha] = commit
        return commit

    def resolve(self, repo: Repo, ref: str | None) -> Commit | None:
        """A commit from a branch name, refs/... name or a commit SHA (default branch when None)."""
        ref = ref or repo.default_branch
        sha = repo.refs.get(ref) or repo.refs.get(f"refs/heads/{ref}") or repo.refs.get(f"refs/tags/{ref}")
        if sha is None and ref in self.commits:
            sha = ref
        return self.commits.get(sha) if sha else None
