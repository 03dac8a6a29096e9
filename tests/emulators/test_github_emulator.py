"""GitHub emulator through PyGithub."""

from __future__ import annotations

import pytest
from github import Auth, BadCredentialsException, Github, GithubException

from emulators.github import GitHubEmulator, blob_sha


def login(gh: GitHubEmulator, token: str = "t") -> Github:
    # PyGithub throttles writes to one per second by default; a local emulator needs no pacing.
    return Github(
        auth=Auth.Token(token),
        base_url=gh.base_url,
        retry=None,
        seconds_between_requests=0,
        seconds_between_writes=0,
    )


def test_branch_file_pull_request_flow(gh: GitHubEmulator) -> None:
    gh.create_repo("acme", "postmortems", files={"README.md": "# Postmortems\n", "docs/template.md": "# T\n"})
    repo = login(gh).get_repo("acme/postmortems")
    assert (repo.full_name, repo.default_branch, repo.url) == (
        "acme/postmortems",
        "main",
        f"{gh.base_url}/repos/acme/postmortems",
    )
    base_sha = repo.get_branch("main").commit.sha
    ref = repo.create_git_ref(ref="refs/heads/pm/inc-7", sha=base_sha)
    assert (ref.ref, ref.object.sha) == ("refs/heads/pm/inc-7", base_sha)
    created = repo.create_file("postmortems/INC-7.md", "Add INC-7 postmortem", "# INC-7\n", branch="pm/inc-7")
    assert created["content"].sha == blob_sha(b"# INC-7\n")
    assert created["commit"].sha != base_sha
    current = repo.get_contents("postmortems/INC-7.md", ref="pm/inc-7")
    assert not isinstance(current, list) and current.decoded_content == b"# INC-7\n"
    repo.update_file(current.path, "Revise", "# INC-7 v2\n", current.sha, branch="pm/inc-7")
    assert gh.file("acme", "postmortems", "pm/inc-7", "postmortems/INC-7.md") == "# INC-7 v2\n"
    assert gh.file("acme", "postmortems", "main", "postmortems/INC-7.md") is None
    listing = repo.get_contents("", ref="pm/inc-7")
    assert isinstance(listing, list)
    assert sorted((c.path, c.type) for c in listing) == [
        ("README.md", "file"),
        ("docs", "dir"),
        ("postmortems", "dir"),
    ]
    pr = repo.create_pull(
        base="main", head="pm/inc-7", title="Postmortem INC-7", body="Blameless.", draft=True
    )
    assert (pr.number, pr.state, pr.draft, pr.head.ref, pr.base.ref) == (1, "open", True, "pm/inc-7", "main")
    assert pr.html_url == f"{gh.base_url}/acme/postmortems/pull/1"
    pr.add_to_labels("postmortem")
    assert [p["labels"][0]["name"] for p in gh.pull_requests("acme", "postmortems")] == ["postmortem"]
    assert repo.get_pull(1).title == "Postmortem INC-7"


def test_lookup_before_create_finds_the_existing_pull_request(gh: GitHubEmulator) -> None:
    gh.create_repo("acme", "pm")
    repo = login(gh).get_repo("acme/pm")
    repo.create_git_ref(ref="refs/heads/fix-1", sha=repo.get_branch("main").commit.sha)
    repo.create_file("a.md", "add", "a", branch="fix-1")
    assert list(repo.get_pulls(state="open", head="acme:fix-1")) == []
    repo.create_pull(base="main", head="fix-1", title="Fix 1", body="")
    found = list(repo.get_pulls(state="open", head="acme:fix-1", base="main"))
    assert [p.number for p in found] == [1]
    assert list(repo.get_pulls(state="open", head="other:fix-1")) == []
    with pytest.raises(GithubException) as info:
        repo.create_pull(base="main", head="fix-1", title="Fix 1 again", body="")
    assert info.value.status == 422
    assert info.value.data["errors"][0]["message"] == "A pull request already exists for acme:fix-1."


def test_git_and_contents_errors_match_github(gh: GitHubEmulator) -> None:
    gh.create_repo("acme", "pm")
    repo = login(gh).get_repo("acme/pm")
    sha = repo.get_branch("main").commit.sha
    repo.create_git_ref(ref="refs/heads/b", sha=sha)
    with pytest.raises(GithubException) as exists:
        repo.create_git_ref(ref="refs/heads/b", sha=sha)
    assert (exists.value.status, exists.value.data["message"]) == (422, "Reference already exists")
    repo.create_file("f.md", "add", "one", branch="b")
    with pytest.raises(GithubException) as no_sha:
        repo.create_file("f.md", "again", "two", branch="b")
    assert no_sha.value.status == 422 and '"sha" wasn\'t supplied' in no_sha.value.data["message"]
    gh.write_file("acme", "pm", "b", "f.md", "changed by someone else")
    with pytest.raises(GithubException) as stale:
        repo.update_file("f.md", "update", "three", blob_sha(b"one"), branch="b")
    assert (
        stale.value.status == 409 and stale.value.data["message"] == f"f.md does not match {blob_sha(b'one')}"
    )
    with pytest.raises(GithubException) as missing:
        repo.get_branch("nope")
    assert missing.value.status == 404
    with pytest.raises(GithubException) as no_commits:
        repo.create_git_ref(ref="refs/heads/empty", sha=sha)
        repo.create_pull(base="main", head="empty", title="t", body="")
    assert no_commits.value.data["errors"][0]["message"] == "No commits between main and empty"


def test_bad_credentials_and_anonymous_writes(gh: GitHubEmulator) -> None:
    gh.create_repo("acme", "pm")
    with pytest.raises(BadCredentialsException) as info:
        login(gh, "wrong").get_repo("acme/pm")
    assert info.value.status == 401 and info.value.data["message"] == "Bad credentials"
    anonymous = Github(base_url=gh.base_url, retry=None, seconds_between_writes=0).get_repo("acme/pm")
    with pytest.raises(GithubException) as write:
        anonymous.create_git_ref(ref="refs/heads/x", sha=gh.branches("acme", "pm")["main"])
    assert write.value.status == 401


def test_server_errors_are_retried_by_github_retry(gh: GitHubEmulator) -> None:
    gh.create_repo("acme", "pm")
    gh.inject("GET /repos/acme/pm", status=502, times=1)
    client = Github(auth=Auth.Token("t"), base_url=gh.base_url)  # default GithubRetry
    assert client.get_repo("acme/pm").name == "pm"
    assert [r.status for r in gh.requests.filter("GET /repos/acme/pm")] == [502, 200]
