"""GitHub write and query rules: contents listing and writes, pull request filters and creation."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from emulators.github import shapes
from emulators.github.state import GitHubState, PullRequest, Repo

Answer = tuple[int, Any]


def contents(base: str, state: GitHubState, repo: Repo, path: str, ref_name: str) -> Answer:
    """GET /contents: a file with base64 content, or a directory listing."""
    commit = state.resolve(repo, ref_name)
    doc = "repos/contents#get-repository-content"
    if commit is None:
        return 404, shapes.error(404, f"No commit found for the ref {ref_name}", doc)
    if path in commit.tree:
        blob = commit.tree[path]
        return 200, shapes.content(base, repo, path, blob, state.blobs[blob], ref_name)
    prefix = f"{path}/" if path else ""
    children: dict[str, dict[str, Any]] = {}
    for file_path, blob in sorted(commit.tree.items()):
        if not file_path.startswith(prefix):
            continue
        head, sep, _ = file_path[len(prefix) :].partition("/")
        child = prefix + head
        if sep:
            children.setdefault(child, shapes.directory(base, repo, child, ref_name))
        else:
            entry = shapes.content(base, repo, child, blob, None, ref_name)
            entry["size"] = len(state.blobs[blob])
            children[child] = entry
    if not children:
        return 404, shapes.error(404, "Not Found", doc)
    return 200, list(children.values())


def write_file(base: str, state: GitHubState, repo: Repo, path: str, body: dict[str, Any]) -> Answer:
    """PUT /contents: create (201) or update (200, needs the current blob sha; 409 on mismatch)."""
    doc = "repos/contents#create-or-update-file-contents"
    for field in ("message", "content"):
        if field not in body:
            return 422, shapes.error(422, f'Invalid request.\n\n"{field}" wasn\'t supplied.', doc)
    try:
        data = base64.b64decode(str(body["content"]), validate=True)
    except (binascii.Error, ValueError):
        return 422, shapes.error(422, "content is not valid Base64", doc)
    branch = str(body.get("branch") or repo.default_branch)
    head = repo.branch_sha(branch)
    if head is None:
        return 404, shapes.error(404, f"Branch {branch} not found", doc)
    existing = state.commits[head].tree.get(path)
    if existing is not None:
        given = body.get("sha")
        if not given:
            return 422, shapes.error(422, 'Invalid request.\n\n"sha" wasn\'t supplied.', doc)
        if given != existing:
            return 409, shapes.error(409, f"{path} does not match {given}", doc)
    author = body.get("author") or body.get("committer") or {}
    who = (
        str(author.get("name", "Runbook Revenant")),
        str(author.get("email", "revenant@users.noreply.github.com")),
    )
    commit = state.commit(head, {path: data}, str(body["message"]), who)
    repo.refs[f"refs/heads/{branch}"] = commit.sha
    entry = shapes.content(base, repo, path, commit.tree[path], None, branch)
    entry["size"] = len(data)
    return (200 if existing else 201), {"content": entry, "commit": shapes.git_commit(base, repo, commit)}


def select_pulls(repo: Repo, query: Mapping[str, str]) -> list[PullRequest]:
    """GET /pulls filters: state, head ("owner:branch"; ignored without owner, like GitHub), base, sort."""
    state = query.get("state", "open")
    pulls = [p for p in repo.pulls if state == "all" or p.state == state]
    head = query.get("head", "")
    if ":" in head:
        owner, _, branch = head.partition(":")
        pulls = [p for p in pulls if owner.lower() == repo.owner.lower() and p.head == branch]
    if query.get("base"):
        pulls = [p for p in pulls if p.base == query["base"]]
    key = "updated_at" if query.get("sort") in ("updated", "popularity", "long-running") else "created_at"
    ascending = query.get("direction", "desc") == "asc"
    return sorted(pulls, key=lambda p: (getattr(p, key), p.number), reverse=not ascending)


def open_pull(base: str, state: GitHubState, repo: Repo, body: dict[str, Any], login: str) -> Answer:
    """POST /pulls with GitHub's 422 validation errors (including "A pull request already exists")."""
    doc = "pulls/pulls#create-a-pull-request"

    def invalid(**error: str) -> Answer:
        return 422, shapes.error(422, "Validation Failed", doc, [{"resource": "PullRequest", **error}])

    head_owner, _, head = str(body.get("head", "")).rpartition(":")
    target = str(body.get("base", ""))
    if not body.get("title"):
        return invalid(code="missing_field", field="title")
    if not target or repo.branch_sha(target) is None:
        return invalid(field="base", code="invalid")
    if not head or repo.branch_sha(head) is None or (head_owner and head_owner.lower() != repo.owner.lower()):
        return invalid(field="head", code="invalid")
    if repo.branch_sha(head) == repo.branch_sha(target):
        return invalid(code="custom", message=f"No commits between {target} and {head}")
    if any(p.state == "open" and p.head == head and p.base == target for p in repo.pulls):
        return invalid(code="custom", message=f"A pull request already exists for {repo.owner}:{head}.")
    now = state.iso_now()
    pull = PullRequest(
        number=len(repo.pulls) + 1,
        id=state.next_id(),
        title=str(body["title"]),
        body=body.get("body"),
        head=head,
        base=target,
        user=login,
        created_at=now,
        updated_at=now,
        draft=bool(body.get("draft", False)),
        maintainer_can_modify=bool(body.get("maintainer_can_modify", False)),
    )
    repo.pulls.append(pull)
    return 201, shapes.pull(base, state, repo, pull)
