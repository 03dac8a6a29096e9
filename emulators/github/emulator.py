"""GitHubEmulator: the REST v3 subset PyGithub uses for branch → file → pull request flows."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from aiohttp import web

from emulators.faults import Fault
from emulators.github import operations, shapes
from emulators.github.state import GitHubState, Repo
from emulators.server import EmulatorServer, body_of, json_response

PREFIXES = ("", "/api/v3")


class GitHubEmulator(EmulatorServer):
    """GitHub REST API emulator: `Github(auth=Auth.Token(t), base_url=gh.base_url)`."""

    name = "github"

    def __init__(
        self,
        *,
        tokens: Iterable[str] | None = None,
        login: str = "revenant-bot",
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(host=host, port=port, clock=clock)
        self.state = GitHubState(self.clock)
        self.tokens = set(tokens) if tokens is not None else None
        self.login = login
        self.rate_remaining = 5000

    # ----- wiring -----
    def setup_routes(self, app: web.Application) -> None:
        """Routes under / and /api/v3 (GitHub Enterprise style)."""
        app.on_response_prepare.append(self._rate_headers)
        repo = "/repos/{owner}/{repo}"
        for p in PREFIXES:
            app.router.add_get(p + "/user", self._user)
            app.router.add_get(p + repo, self._get_repo)
            app.router.add_get(p + repo + "/branches/{branch:.+}", self._get_branch)
            app.router.add_get(p + repo + "/commits/{ref:.+}", self._get_commit)
            app.router.add_get(p + repo + "/git/ref/{ref:.+}", self._get_ref)
            app.router.add_get(p + repo + "/git/refs/{ref:.+}", self._get_ref)
            app.router.add_get(p + repo + "/git/refs", self._matching_refs)
            app.router.add_get(p + repo + "/git/matching-refs/{ref:.*}", self._matching_refs)
            app.router.add_post(p + repo + "/git/refs", self._create_ref)
            app.router.add_get(p + repo + "/contents/{path:.*}", self._get_contents)
            app.router.add_put(p + repo + "/contents/{path:.+}", self._put_contents)
            app.router.add_get(p + repo + "/pulls", self._list_pulls)
            app.router.add_post(p + repo + "/pulls", self._create_pull)
            app.router.add_get(p + repo + "/pulls/{number:\\d+}", self._get_pull)
            app.router.add_post(p + repo + "/issues/{number:\\d+}/labels", self._add_labels)

    def operation_name(self, request: web.Request) -> str:
        """ "METHOD /path" without the /api/v3 prefix."""
        path = request.path.removeprefix("/api/v3")
        return f"{request.method} {path}"

    def fault_body(self, status: int, request: web.Request) -> Any:
        """GitHub's bodies for rate limits and server errors."""
        if status == 429:
            return shapes.error(
                429, "API rate limit exceeded for user.", "overview/rate-limits-for-the-rest-api"
            )
        if status == 403:
            return shapes.error(
                403,
                "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
                "overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
            )
        if status >= 500:
            return {"message": "Server Error"}
        return shapes.error(status, "Error")

    def fault_headers(self, fault: Fault) -> dict[str, str]:
        """Rate-limit faults also report an exhausted quota."""
        headers = super().fault_headers(fault)
        if fault.status == 429:
            headers["X-RateLimit-Remaining"] = "0"
        return headers

    def route_not_found(self, request: web.Request) -> web.StreamResponse:
        """GitHub's 404 body."""
        return json_response(shapes.error(404, "Not Found"), status=404)

    async def _rate_headers(self, request: web.Request, response: web.StreamResponse) -> None:
        reset = math.ceil(self.clock()) + 3600
        response.headers.setdefault("X-RateLimit-Limit", "5000")
        response.headers.setdefault("X-RateLimit-Remaining", str(self.rate_remaining))
        response.headers.setdefault("X-RateLimit-Reset", str(reset))
        response.headers.setdefault("X-RateLimit-Used", str(5000 - self.rate_remaining))
        response.headers.setdefault("X-RateLimit-Resource", "core")
        response.headers.setdefault("X-GitHub-Media-Type", "github.v3; format=json")
        response.headers.setdefault("X-GitHub-Api-Version-Selected", "2022-11-28")

    # ----- request helpers -----
    def _auth(self, request: web.Request, repo: Repo | None, *, write: bool) -> web.Response | None:
        """None when allowed, else GitHub's 401/404 answer."""
        self.rate_remaining = max(0, self.rate_remaining - 1)
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if header:
            if (
                scheme.lower() not in ("token", "bearer")
                or not token
                or (self.tokens is not None and token not in self.tokens)
            ):
                return json_response(shapes.error(401, "Bad credentials"), status=401)
            return None
        if write:
            return json_response(shapes.error(401, "Requires authentication"), status=401)
        if repo is not None and repo.private:
            return json_response(shapes.error(404, "Not Found"), status=404)
        return None

    def _repo(self, request: web.Request, *, write: bool = False) -> Repo | web.Response:
        repo = self.state.repo(request.match_info["owner"], request.match_info["repo"])
        denied = self._auth(request, repo, write=write)
        if denied is not None:
            return denied
        if repo is None:
            return json_response(shapes.error(404, "Not Found", "repos/repos#get-a-repository"), status=404)
        return repo

    def _page(self, request: web.Request, items: list[Any]) -> tuple[list[Any], dict[str, str]]:
        """Slice by per_page/page and build the Link header PyGithub follows."""
        per_page = max(1, min(int(request.query.get("per_page", 30)), 100))
        page = max(1, int(request.query.get("page", 1)))
        last = max(1, math.ceil(len(items) / per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        links = []
        if page < last:
            query = dict(request.query) | {"per_page": str(per_page)}
            for rel, number in (("next", page + 1), ("last", last)):
                q = "&".join(f"{k}={v}" for k, v in (query | {"page": str(number)}).items())
                links.append(f'<{self.base_url}{request.path}?{q}>; rel="{rel}"')
        return chunk, ({"Link": ", ".join(links)} if links else {})

    @staticmethod
    async def _json_body(request: web.Request) -> dict[str, Any]:
        body = body_of(request)
        return body if isinstance(body, dict) else {}

    # ----- handlers -----
    async def _user(self, request: web.Request) -> web.StreamResponse:
        denied = self._auth(request, None, write=True)
        return denied or json_response(shapes.user(self.base_url, self.login))

    async def _get_repo(self, request: web.Request) -> web.StreamResponse:
        with self.lock:
            repo = self._repo(request)
            return repo if isinstance(repo, web.Response) else json_response(shapes.repo(self.base_url, repo))

    async def _get_branch(self, request: web.Request) -> web.StreamResponse:
        with self.lock:
            repo = self._repo(request)
            if isinstance(repo, web.Response):
                return repo
            name = request.match_info["branch"]
            sha = repo.branch_sha(name)
            if sha is None:
                return json_response(
                    shapes.error(404, "Branch not found", "branches/branches#get-a-branch"), 404
                )
            return json_response(shapes.branch(self.base_url, repo, name, self.state.commits[sha]))

    async def _get_commit(self, request: web.Request) -> web.StreamResponse:
        with self.lock:
            repo = self._repo(request)
            if isinstance(repo, web.Response):
                return repo
            found = self.state.resolve(repo, request.match_info["ref"])
            if found is None:
                return json_response(
                    shapes.error(422, f"No commit found for SHA: {request.match_info['ref']}",
                                 "commits/commits#get-a-commit"), 422)
            return json_response(shapes.commit(self.base_url, repo, found))

    async def _get_ref(self, request: web.Request) -> web.StreamResponse:
        with self.lock:
            repo = self._repo(request)
            if isinstance(repo, web.Response):
                return repo
            name = "refs/" + request.match_info["ref"].removeprefix("refs/")
            sha = repo.refs.get(name)
            if sha is None:
                return json_response(shapes.error(404, "Not Found", "git/refs#get-a-reference"), 404)
            return json_response(shapes.ref(self.base_url, repo, name, sha))

    async def _matching_refs(self, request: web.Request) -> web.StreamResponse:
        with self.lock:
            repo = self._repo(request)
            if isinstance(repo, web.Response):
                return repo
            prefix = "refs/" + request.match_info.get("ref", "").removeprefix("refs/")
            found = [
                shapes.ref(self.base_url, repo, n, s)
                for n, s in sorted(repo.refs.items())
                if n.startswith(prefix)
            ]
            page, headers = self._page(request, found)
            return json_response(page, headers=headers)

    async def _create_ref(self, request: web.Request) -> web.StreamResponse:
        body = await self._json_body(request)
        with self.lock:
            repo = self._repo(request, write=True)
            if isinstance(repo, web.Response):
                return repo
            name, sha = str(body.get("ref", "")), str(body.get("sha", ""))
            doc = "git/refs#create-a-reference"
            if not name.startswith("refs/") or name.count("/") < 2:
                return json_response(shapes.error(422, "Reference name is invalid", doc), 422)
            if sha not in self.state.commits:
                return json_response(shapes.error(422, "Object does not exist", doc), 422)
            if name in repo.refs:
                return json_response(shapes.error(422, "Reference already exists", doc), 422)
            repo.refs[name] = sha
            return json_response(shapes.ref(self.base_url, repo, name, sha), 201)

    async def _get_contents(self, request: web.Request) -> web.StreamResponse:
        with self.lock:
            repo = self._repo(request)
            if isinstance(repo, web.Response):
                return repo
            ref_name = request.query.get("ref") or repo.default_branch
            path = request.match_info["path"].strip("/")
            status, data = operations.contents(self.base_url, self.state, repo, path, ref_name)
            return json_response(data, status)

    async def _put_contents(self, request: web.Request) -> web.StreamResponse:
        body = await self._json_body(request)
        with self.lock:
            repo = self._repo(request, write=True)
            if isinstance(repo, web.Response):
                return repo
            status, data = operations.write_file(
                self.base_url, self.state, repo, request.match_info["path"].strip("/"), body
            )
            return json_response(data, status)

    async def _list_pulls(self, request: web.Request) -> web.StreamResponse:
        with self.lock:
            repo = self._repo(request)
            if isinstance(repo, web.Response):
                return repo
            pulls = operations.select_pulls(repo, request.query)
            page, headers = self._page(
                request, [shapes.pull(self.base_url, self.state, repo, p) for p in pulls]
            )
            return json_response(page, headers=headers)

    async def _get_pull(self, request: web.Request) -> web.StreamResponse:
        with self.lock:
            repo = self._repo(request)
            if isinstance(repo, web.Response):
                return repo
            number = int(request.match_info["number"])
            found = next((p for p in repo.pulls if p.number == number), None)
            if found is None:
                return json_response(shapes.error(404, "Not Found", "pulls/pulls#get-a-pull-request"), 404)
            return json_response(shapes.pull(self.base_url, self.state, repo, found))

    async def _create_pull(self, request: web.Request) -> web.StreamResponse:
        body = await self._json_body(request)
        with self.lock:
            repo = self._repo(request, write=True)
            if isinstance(repo, web.Response):
                return repo
            status, data = operations.open_pull(self.base_url, self.state, repo, body, self.login)
            return json_response(data, status)

    async def _add_labels(self, request: web.Request) -> web.StreamResponse:
        body = body_of(request)
        with self.lock:
            repo = self._repo(request, write=True)
            if isinstance(repo, web.Response):
                return repo
            names = (
                body.get("labels", []) if isinstance(body, dict) else body if isinstance(body, list) else []
            )
            number = int(request.match_info["number"])
            pull = next((p for p in repo.pulls if p.number == number), None)
            if pull is None:
                return json_response(shapes.error(404, "Not Found", "issues/labels"), 404)
            for name in names:
                label = str(name.get("name", "")) if isinstance(name, dict) else str(name)
                repo.labels.setdefault(label, "ededed")
                if label not in pull.labels:
                    pull.labels.append(label)
            return json_response([shapes.label(self.base_url, repo, n) for n in pull.labels])

    # ----- helpers for tests and the demo -----
    def create_repo(
        self,
        owner: str,
        name: str,
        default_branch: str = "main",
        *,
        files: dict[str, str] | None = None,
        private: bool = False,
        description: str = "",
    ) -> Repo:
        """A repository with one initial commit (a README unless `files` are given)."""
        with self.lock:
            initial: dict[str, bytes | None] = {p: c.encode() for p, c in (files or {"README.md": f"# {name}\n"}).items()}
            commit = self.state.commit(None, initial, "Initial commit")
            repo = Repo(
                id=self.state.next_id(),
                owner=owner,
                name=name,
                default_branch=default_branch,
                private=private,
                description=description,
                created_at=self.state.iso_now(),
                refs={f"refs/heads/{default_branch}": commit.sha},
            )
            self.state.repos[(owner.lower(), name.lower())] = repo
            return repo

    def write_file(
        self, owner: str, repo: str, branch: str, path: str, content: str, message: str = "Update"
    ) -> str:
        """Commit a file change directly (as another person would); returns the new commit SHA."""
        with self.lock:
            r = self._must_repo(owner, repo)
            commit = self.state.commit(r.branch_sha(branch), {path: content.encode()}, message)
            r.refs[f"refs/heads/{branch}"] = commit.sha
            return commit.sha

    def push(self, owner: str, repo: str, branch: str, changes: dict[str, str | None],
             message: str = "Update") -> str:
        """Commit several changes at once (None deletes a path) onto a branch; returns the new commit SHA."""
        with self.lock:
            r = self._must_repo(owner, repo)
            commit = self.state.commit(r.branch_sha(branch), {
                p: None if c is None else c.encode() for p, c in changes.items()}, message)
            r.refs[f"refs/heads/{branch}"] = commit.sha
            return commit.sha

    def file(self, owner: str, repo: str, branch: str, path: str) -> str | None:
        """Text of a file on a branch, or None."""
        with self.lock:
            commit = self.state.resolve(self._must_repo(owner, repo), branch)
            blob = commit.tree.get(path) if commit else None
            return self.state.blobs[blob].decode() if blob else None

    def branches(self, owner: str, repo: str) -> dict[str, str]:
        """Branch name → head commit SHA."""
        with self.lock:
            refs = self._must_repo(owner, repo).refs
            return {n.removeprefix("refs/heads/"): s for n, s in refs.items() if n.startswith("refs/heads/")}

    def pull_requests(self, owner: str, repo: str, *, state: str = "all") -> list[dict[str, Any]]:
        """Pull requests as GitHub JSON, oldest first."""
        with self.lock:
            r = self._must_repo(owner, repo)
            return [
                shapes.pull(self.base_url, self.state, r, p)
                for p in r.pulls
                if state == "all" or p.state == state
            ]

    def _must_repo(self, owner: str, repo: str) -> Repo:
        found = self.state.repo(owner, repo)
        if found is None:
            raise KeyError(f"{owner}/{repo}")
        return found
