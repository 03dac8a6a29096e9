"""GitHub REST v3 JSON shapes; every URL points back at the emulator."""

from __future__ import annotations

import base64
import zlib
from typing import Any
from urllib.parse import quote

from emulators.github.state import Commit, GitHubState, PullRequest, Repo

DOCS = "https://docs.github.com/rest"


def _stable(*parts: str) -> int:
    """A process-independent numeric id derived from strings."""
    return zlib.crc32("\0".join(parts).encode())


def error(
    status: int, message: str, doc: str = "", errors: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """GitHub's error body."""
    body: dict[str, Any] = {"message": message}
    if errors is not None:
        body["errors"] = errors
    body["documentation_url"] = f"{DOCS}/{doc}" if doc else DOCS
    body["status"] = str(status)
    return body


def user(base: str, login: str, user_id: int = 1) -> dict[str, Any]:
    """A simple-user object."""
    url = f"{base}/users/{login}"
    return {
        "login": login,
        "id": user_id,
        "node_id": f"U_{user_id}",
        "avatar_url": f"{base}/avatars/{login}",
        "gravatar_id": "",
        "url": url,
        "html_url": f"{base}/{login}",
        "repos_url": f"{url}/repos",
        "type": "User",
        "site_admin": False,
    }


def repo(base: str, r: Repo) -> dict[str, Any]:
    """A full repository object."""
    url = f"{base}/repos/{r.full_name}"
    data: dict[str, Any] = {
        "id": r.id,
        "node_id": f"R_{r.id}",
        "name": r.name,
        "full_name": r.full_name,
        "private": r.private,
        "owner": user(base, r.owner),
        "html_url": f"{base}/{r.full_name}",
        "description": r.description,
        "fork": False,
        "url": url,
        "git_refs_url": f"{url}/git/refs{{/sha}}",
        "contents_url": f"{url}/contents/{{+path}}",
        "pulls_url": f"{url}/pulls{{/number}}",
        "branches_url": f"{url}/branches{{/branch}}",
        "issues_url": f"{url}/issues{{/number}}",
        "labels_url": f"{url}/labels{{/name}}",
        "created_at": r.created_at,
        "updated_at": r.created_at,
        "pushed_at": r.created_at,
        "clone_url": f"{base}/{r.full_name}.git",
        "default_branch": r.default_branch,
        "visibility": "private" if r.private else "public",
        "archived": False,
        "disabled": False,
        "open_issues_count": sum(1 for p in r.pulls if p.state == "open"),
        "permissions": {"admin": True, "maintain": True, "push": True, "triage": True, "pull": True},
        "allow_merge_commit": True,
        "allow_squash_merge": True,
        "allow_rebase_merge": True,
        "delete_branch_on_merge": False,
    }
    return data


def git_commit(base: str, r: Repo, c: Commit) -> dict[str, Any]:
    """A git commit object (as in the contents API response)."""
    url = f"{base}/repos/{r.full_name}/git/commits/{c.sha}"
    person = {"name": c.author_name, "email": c.author_email, "date": c.date}
    return {
        "sha": c.sha,
        "node_id": f"C_{c.sha[:12]}",
        "url": url,
        "html_url": f"{base}/{r.full_name}/commit/{c.sha}",
        "author": person,
        "committer": person,
        "message": c.message,
        "tree": {"url": f"{base}/repos/{r.full_name}/git/trees/{c.tree_sha}", "sha": c.tree_sha},
        "parents": [
            {
                "url": f"{base}/repos/{r.full_name}/git/commits/{p}",
                "html_url": f"{base}/{r.full_name}/commit/{p}",
                "sha": p,
            }
            for p in c.parents
        ],
        "verification": {"verified": False, "reason": "unsigned", "signature": None, "payload": None},
    }


def commit(base: str, r: Repo, c: Commit) -> dict[str, Any]:
    """A repository commit object (as in the branches API)."""
    url = f"{base}/repos/{r.full_name}/commits/{c.sha}"
    inner = git_commit(base, r, c)
    return {
        "sha": c.sha,
        "node_id": inner["node_id"],
        "commit": {k: inner[k] for k in ("author", "committer", "message", "tree", "url", "verification")}
        | {"comment_count": 0},
        "url": url,
        "html_url": inner["html_url"],
        "comments_url": f"{url}/comments",
        "author": None,
        "committer": None,
        "parents": [{"sha": p, "url": f"{base}/repos/{r.full_name}/commits/{p}"} for p in c.parents],
    }


def branch(base: str, r: Repo, name: str, c: Commit) -> dict[str, Any]:
    """A branch with its head commit."""
    url = f"{base}/repos/{r.full_name}/branches/{quote(name)}"
    return {
        "name": name,
        "commit": commit(base, r, c),
        "_links": {"self": url, "html": f"{base}/{r.full_name}/tree/{name}"},
        "protected": False,
        "protection": {
            "enabled": False,
            "required_status_checks": {"enforcement_level": "off", "contexts": []},
        },
        "protection_url": f"{url}/protection",
    }


def ref(base: str, r: Repo, name: str, sha: str) -> dict[str, Any]:
    """A git reference."""
    return {
        "ref": name,
        "node_id": f"REF_{_stable(r.full_name, name)}",
        "url": f"{base}/repos/{r.full_name}/git/{name}",
        "object": {"sha": sha, "type": "commit", "url": f"{base}/repos/{r.full_name}/git/commits/{sha}"},
    }


def content(base: str, r: Repo, path: str, blob: str, data: bytes | None, ref_name: str) -> dict[str, Any]:
    """A file entry; with `data` it carries base64 content like GET /contents does."""
    url = f"{base}/repos/{r.full_name}/contents/{quote(path)}?ref={quote(ref_name)}"
    html = f"{base}/{r.full_name}/blob/{ref_name}/{path}"
    git_url = f"{base}/repos/{r.full_name}/git/blobs/{blob}"
    entry: dict[str, Any] = {
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "sha": blob,
        "size": 0,
        "url": url,
        "html_url": html,
        "git_url": git_url,
        "download_url": f"{base}/raw/{r.full_name}/{ref_name}/{path}",
        "type": "file",
        "_links": {"self": url, "git": git_url, "html": html},
    }
    if data is not None:
        encoded = base64.b64encode(data).decode()
        entry["size"] = len(data)
        entry["content"] = "\n".join(encoded[i : i + 60] for i in range(0, len(encoded), 60)) + "\n"
        entry["encoding"] = "base64"
    return entry


def directory(base: str, r: Repo, path: str, ref_name: str) -> dict[str, Any]:
    """A directory entry in a listing."""
    url = f"{base}/repos/{r.full_name}/contents/{quote(path)}?ref={quote(ref_name)}"
    html = f"{base}/{r.full_name}/tree/{ref_name}/{path}"
    return {
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "sha": "0" * 40,
        "size": 0,
        "url": url,
        "html_url": html,
        "git_url": None,
        "download_url": None,
        "type": "dir",
        "_links": {"self": url, "git": None, "html": html},
    }


def pull(base: str, state: GitHubState, r: Repo, p: PullRequest) -> dict[str, Any]:
    """A pull request object."""
    url = f"{base}/repos/{r.full_name}/pulls/{p.number}"
    issue_url = f"{base}/repos/{r.full_name}/issues/{p.number}"
    html = f"{base}/{r.full_name}/pull/{p.number}"
    owner = user(base, r.owner)

    def side(branch_name: str) -> dict[str, Any]:
        return {
            "label": f"{r.owner}:{branch_name}",
            "ref": branch_name,
            "sha": r.branch_sha(branch_name) or "",
            "user": owner,
            "repo": repo(base, r),
        }

    return {
        "url": url,
        "id": p.id,
        "node_id": f"PR_{p.id}",
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "issue_url": issue_url,
        "commits_url": f"{url}/commits",
        "review_comments_url": f"{url}/comments",
        "comments_url": f"{issue_url}/comments",
        "statuses_url": f"{base}/repos/{r.full_name}/statuses/{r.branch_sha(p.head) or ''}",
        "number": p.number,
        "state": p.state,
        "locked": False,
        "title": p.title,
        "user": user(base, p.user),
        "body": p.body,
        "labels": [label(base, r, name) for name in p.labels],
        "milestone": None,
        "active_lock_reason": None,
        "created_at": p.created_at,
        "updated_at": p.updated_at,
        "closed_at": p.closed_at,
        "merged_at": None,
        "merge_commit_sha": None,
        "assignee": None,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "head": side(p.head),
        "base": side(p.base),
        "_links": {"self": {"href": url}, "html": {"href": html}, "issue": {"href": issue_url}},
        "author_association": "OWNER",
        "auto_merge": None,
        "draft": p.draft,
        "merged": False,
        "mergeable": None,
        "maintainer_can_modify": p.maintainer_can_modify,
        "comments": 0,
        "review_comments": 0,
        "commits": 1,
        "additions": 0,
        "deletions": 0,
        "changed_files": 0,
    }


def label(base: str, r: Repo, name: str) -> dict[str, Any]:
    """A label object."""
    return {
        "id": _stable(r.full_name, name),
        "node_id": f"LA_{_stable(name)}",
        "url": f"{base}/repos/{r.full_name}/labels/{quote(name)}",
        "name": name,
        "color": r.labels.get(name, "ededed"),
        "default": False,
        "description": None,
    }
