"""GitHub: the postmortem as `postmortems/<date>-<incident>.md` on its own branch, with a pull request.

Every step looks before it writes (branch, file, pull request), and the names are derived from the
incident, so a retry after a timeout or a crash between sending and recording finds what the
earlier attempt made instead of publishing twice. GITHUB_API_URL points it at GitHub Enterprise.
"""

from __future__ import annotations

import contextlib
from typing import Any

from github import Auth, Github, GithubException, UnknownObjectException
from github.GithubRetry import GithubRetry
from github.Repository import Repository

from incident_core import richtext as rt
from incident_core.postmortem_render import PostmortemDocument, section_blocks
from incident_core.publishing import Publication
from publishers.errors import PublishError
from publishers.markdown import no_mentions, to_markdown


def pull_title(doc: PostmortemDocument) -> str:
    """The pull request title: one line, no mention (GitHub notifies @names in titles and bodies)."""
    return rt.one_line(no_mentions(f"Postmortem: {doc.title}"), 250)


def pull_body(doc: PostmortemDocument) -> str:
    """The pull request body: who approved it, the summary (escaped like the file), where the file is."""
    content = rt.doc(rt.para(f"Blameless postmortem of {doc.human_id} ({doc.severity}), approved by {doc.approver}."),
                     *section_blocks(rt.clip(doc.summary, 3000)),
                     rt.para("File: ", rt.code(doc.path), ". Opened by Runbook Revenant."))
    return to_markdown(content)


class GitHubPublisher:
    """Publisher port over PyGithub; `config` is `{repo: owner/name, base: main, draft: false, labels: [...]}`."""

    def __init__(self, token: str, *, base_url: str = "https://api.github.com", timeout: int = 15,
                 retries: int = 2, seconds_between_writes: float = 1.0) -> None:
        self._github = Github(auth=Auth.Token(token), base_url=base_url.rstrip("/"), timeout=timeout,
                              retry=GithubRetry(total=retries, backoff_factor=0.5) if retries else None,
                              seconds_between_requests=None, seconds_between_writes=seconds_between_writes or None)

    def publish(self, doc: PostmortemDocument, config: dict[str, Any]) -> Publication:
        """Branch, file and pull request, each created only when a lookup does not find it."""
        repo = self._repo(str(config["repo"]))
        base = str(config.get("base") or repo.default_branch)
        self._ensure_branch(repo, doc.branch, base)
        self._ensure_file(repo, doc)
        pr = self._ensure_pull(repo, doc, base, draft=bool(config.get("draft", False)))
        labels = [str(label) for label in config.get("labels") or ()]
        if labels and not {label.name for label in pr.labels} >= set(labels):
            pr.add_to_labels(*labels)
        return Publication(url=pr.html_url, ref=f"{repo.full_name}#{pr.number}")

    def _repo(self, name: str) -> Repository:
        try:
            return self._github.get_repo(name)
        except GithubException as exc:
            if exc.status == 401:
                raise PublishError("GitHub refused GITHUB_TOKEN (401 Bad credentials): set a valid token") from None
            if exc.status == 404:
                raise PublishError(f"GitHub repository {name} was not found, or GITHUB_TOKEN cannot see it; "
                                   "check publishing.github.repo and the token's repo access") from None
            raise

    @staticmethod
    def _ensure_branch(repo: Repository, branch: str, base: str) -> None:
        with contextlib.suppress(UnknownObjectException):
            repo.get_branch(branch)
            return  # already there: an earlier attempt created it
        try:
            sha = repo.get_branch(base).commit.sha
        except UnknownObjectException:
            raise PublishError(f"{repo.full_name} has no branch {base!r}; fix publishing.github.base") from None
        try:
            repo.create_git_ref(ref=f"refs/heads/{branch}", sha=sha)
        except GithubException as exc:
            if exc.status != 422:  # 422 "Reference already exists": an earlier attempt made it
                raise

    @staticmethod
    def _ensure_file(repo: Repository, doc: PostmortemDocument) -> None:
        message = rt.one_line(no_mentions(f"Postmortem {doc.human_id}: {doc.title}"), 200)
        markdown = to_markdown(doc.content)
        for _ in range(3):
            try:
                current = repo.get_contents(doc.path, ref=doc.branch)
            except UnknownObjectException:
                current = None
            try:
                if current is None:
                    repo.create_file(doc.path, message, markdown, branch=doc.branch)
                elif isinstance(current, list):
                    raise PublishError(f"{doc.path} is a directory in {repo.full_name}; move it away")
                elif current.decoded_content.decode("utf-8") != markdown:
                    repo.update_file(doc.path, message, markdown, current.sha, branch=doc.branch)
                return
            except GithubException as exc:
                if exc.status not in (409, 422):  # the file changed under us: look again
                    raise
        raise PublishError(f"{doc.path} keeps changing on {doc.branch}; retrying later")

    @staticmethod
    def _find_pull(repo: Repository, branch: str, base: str) -> Any:
        pulls = list(repo.get_pulls(state="all", head=f"{repo.owner.login}:{branch}", base=base))
        return pulls[0] if pulls else None

    def _ensure_pull(self, repo: Repository, doc: PostmortemDocument, base: str, *, draft: bool) -> Any:
        found = self._find_pull(repo, doc.branch, base)
        if found is not None:
            return found
        try:
            return repo.create_pull(base=base, head=doc.branch, title=pull_title(doc), body=pull_body(doc),
                                    draft=draft)
        except GithubException as exc:
            found = self._find_pull(repo, doc.branch, base) if exc.status == 422 else None
            if found is None:
                raise
            return found  # "A pull request already exists": the earlier attempt's
