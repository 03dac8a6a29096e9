"""JiraEmulator: the Jira REST API v2 subset the `jira` client uses to create, find and link issues."""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from emulators.jira.issues import TRANSITIONS, IssueRules
from emulators.jira.jql import JqlError
from emulators.jira.state import ISSUE_TYPES, LINK_TYPES, JiraState, Link, Project, jira_time
from emulators.server import EmulatorServer, body_of, json_response

API = "/rest/api/{version:2|3|latest}"
USER: web.RequestKey[str] = web.RequestKey("jira_user", str)
NOT_AUTHENTICATED = "You are not authenticated. Authentication required to perform this operation."


def _errors(
    messages: list[str] | None = None, errors: dict[str, str] | None = None, status: int = 400
) -> web.Response:
    return json_response({"errorMessages": messages or [], "errors": errors or {}}, status=status)


class JiraEmulator(EmulatorServer):
    """Jira REST emulator: `JIRA(server=jira.base_url, basic_auth=("u", "t"))`."""

    name = "jira"

    def __init__(
        self,
        *,
        users: Mapping[str, str] | None = None,
        deployment_type: str = "Server",
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(host=host, port=port, clock=clock)
        self.state = JiraState(self.clock)
        self.rules = IssueRules(self.state, lambda: self.base_url, self.clock)
        self.users = dict(users) if users is not None else None
        self.deployment_type = deployment_type

    # ----- wiring -----
    def setup_routes(self, app: web.Application) -> None:
        """REST v2 (and v3/latest with the same shapes)."""
        r = app.router
        r.add_get(API + "/serverInfo", self._server_info)
        r.add_get(API + "/myself", self._myself)
        r.add_get(API + "/field", self._fields)
        r.add_get(API + "/issuetype", self._issue_types)
        r.add_get(API + "/project", self._projects)
        r.add_get(API + "/project/{key}", self._project)
        r.add_post(API + "/issue", self._create_issue)
        r.add_get(API + "/issue/{key}", self._get_issue)
        r.add_put(API + "/issue/{key}", self._update_issue)
        r.add_post(API + "/issue/{key}/comment", self._add_comment)
        r.add_get(API + "/issue/{key}/comment", self._list_comments)
        r.add_get(API + "/issue/{key}/transitions", self._transitions)
        r.add_post(API + "/issue/{key}/transitions", self._transition)
        r.add_route("*", API + "/search", self._search)
        r.add_route("*", API + "/search/jql", self._search_jql)
        r.add_post(API + "/issueLink", self._create_link)
        r.add_get(API + "/issueLink/{id}", self._get_link)
        r.add_get(API + "/issueLinkType", self._link_types)

    def operation_name(self, request: web.Request) -> str:
        """ "METHOD /rest/api/2/..." path form."""
        return f"{request.method} {request.path}"

    def fault_body(self, status: int, request: web.Request) -> Any:
        """Jira's error envelope."""
        message = (
            "Rate limit exceeded."
            if status == 429
            else "Service Unavailable"
            if status == 503
            else "Internal server error"
        )
        return {"errorMessages": [message], "errors": {}}

    def route_not_found(self, request: web.Request) -> web.StreamResponse:
        """Jira's 404 for unknown REST resources."""
        return _errors(["null for uri: " + str(request.url)], status=404)

    def _auth(self, request: web.Request) -> web.Response | None:
        header = request.headers.get("Authorization", "")
        if header.lower().startswith("basic "):
            try:
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            except ValueError:
                user, password = "", ""
            if user and (self.users is None or self.users.get(user) == password):
                request[USER] = user
                return None
        elif header.lower().startswith("bearer ") and header[7:].strip() and self.users is None:
            request[USER] = "token-user"
            return None
        return json_response(
            {"errorMessages": [NOT_AUTHENTICATED], "errors": {}},
            status=401,
            headers={"WWW-Authenticate": 'Basic realm="protected-area"'},
        )

    # ----- handlers -----
    async def _server_info(self, request: web.Request) -> web.StreamResponse:
        cloud = self.deployment_type == "Cloud"
        return json_response(
            {
                "baseUrl": self.base_url,
                "version": "1001.0.0-SNAPSHOT" if cloud else "9.12.2",
                "versionNumbers": [1001, 0, 0] if cloud else [9, 12, 2],
                "deploymentType": self.deployment_type,
                "buildNumber": 100246 if cloud else 9120002,
                "buildDate": "2024-01-01T00:00:00.000+0000",
                "serverTime": jira_time(self.clock()),
                "scmInfo": "emulator",
                "serverTitle": "Jira (emulated)",
            }
        )

    async def _myself(self, request: web.Request) -> web.StreamResponse:
        return self._auth(request) or json_response(self.state.user_json(self.base_url, request[USER]))

    async def _fields(self, request: web.Request) -> web.StreamResponse:
        return self._auth(request) or json_response(self.state.fields_json())

    async def _issue_types(self, request: web.Request) -> web.StreamResponse:
        return self._auth(request) or json_response(
            [self.state.issuetype_json(self.base_url, t) for t in ISSUE_TYPES]
        )

    async def _projects(self, request: web.Request) -> web.StreamResponse:
        with self.lock:
            denied = self._auth(request)
            return denied or json_response(
                [self.state.project_json(self.base_url, p, full=False) for p in self.state.projects.values()]
            )

    async def _project(self, request: web.Request) -> web.StreamResponse:
        with self.lock:
            denied = self._auth(request)
            if denied:
                return denied
            project = self.state.project(request.match_info["key"])
            if project is None:
                return _errors(
                    [f"No project could be found with key '{request.match_info['key']}'."], status=404
                )
            return json_response(self.state.project_json(self.base_url, project))

    async def _create_issue(self, request: web.Request) -> web.StreamResponse:
        body = body_of(request)
        with self.lock:
            denied = self._auth(request)
            if denied:
                return denied
            if not isinstance(body, dict) or not isinstance(body.get("fields"), dict):
                return _errors(["Can not deserialize instance of issue out of the request body."])
            errors = self.rules.validate(body["fields"], creating=True)
            if errors:
                return _errors(errors=errors)
            result = self.rules.create(body["fields"], request[USER])
            data = {
                "id": result.id,
                "key": result.key,
                "self": f"{self.base_url}/rest/api/2/issue/{result.id}",
            }
            return json_response(data, status=201)

    def _wanted_fields(self, request: web.Request) -> set[str] | None:
        raw = request.query.getall("fields", [])
        body = body_of(request)
        if isinstance(body, dict) and isinstance(body.get("fields"), list):
            raw = [*raw, *body["fields"]]
        names = {f.strip() for item in raw for f in str(item).split(",") if f.strip()}
        return names or None

    async def _get_issue(self, request: web.Request) -> web.StreamResponse:
        with self.lock:
            denied = self._auth(request)
            if denied:
                return denied
            issue = self.state.issue(request.match_info["key"])
            if issue is None:
                return _errors(["Issue does not exist or you do not have permission to see it."], status=404)
            return json_response(self.state.issue_json(self.base_url, issue, self._wanted_fields(request)))

    async def _update_issue(self, request: web.Request) -> web.StreamResponse:
        body = body_of(request) if isinstance(body_of(request), dict) else {}
        with self.lock:
            denied = self._auth(request)
            if denied:
                return denied
            issue = self.state.issue(request.match_info["key"])
            if issue is None:
                return _errors(["Issue does not exist or you do not have permission to see it."], status=404)
            fields = body.get("fields") or {}
            errors = self.rules.validate(fields, creating=False)
            if errors:
                return _errors(errors=errors)
            self.rules.apply(issue, fields)
            self.rules.update_labels(issue, (body.get("update") or {}).get("labels", []))
            return web.Response(status=204)

    async def _add_comment(self, request: web.Request) -> web.StreamResponse:
        body = body_of(request) if isinstance(body_of(request), dict) else {}
        with self.lock:
            denied = self._auth(request)
            if denied:
                return denied
            issue = self.state.issue(request.match_info["key"])
            if issue is None:
                return _errors(["Issue does not exist or you do not have permission to see it."], status=404)
            if not body.get("body"):
                return _errors(errors={"comment": "Comment body can not be empty!"})
            comment = self.rules.comment(issue, body["body"], request[USER])
            return json_response(comment, status=201)

    async def _list_comments(self, request: web.Request) -> web.StreamResponse:
        with self.lock:
            denied = self._auth(request)
            if denied:
                return denied
            issue = self.state.issue(request.match_info["key"])
            if issue is None:
                return _errors(["Issue does not exist or you do not have permission to see it."], status=404)
            n = len(issue.comments)
            return json_response({"startAt": 0, "maxResults": n, "total": n, "comments": issue.comments})

    async def _transitions(self, request: web.Request) -> web.StreamResponse:
        with self.lock:
            denied = self._auth(request)
            if denied:
                return denied
            if self.state.issue(request.match_info["key"]) is None:
                return _errors(["Issue does not exist or you do not have permission to see it."], status=404)
            return json_response({"expand": "transitions", "transitions": self.rules.transitions()})

    async def _transition(self, request: web.Request) -> web.StreamResponse:
        body = body_of(request) if isinstance(body_of(request), dict) else {}
        with self.lock:
            denied = self._auth(request)
            if denied:
                return denied
            issue = self.state.issue(request.match_info["key"])
            if issue is None:
                return _errors(["Issue does not exist or you do not have permission to see it."], status=404)
            wanted = (body.get("transition") or {}).get("id") if isinstance(body.get("transition"), dict) else None
            if not wanted or not self.rules.transition(issue, str(wanted)):
                return _errors([f"Transition id '{wanted}' is not valid for this issue."])
            return web.Response(status=204)

    def _run_search(self, request: web.Request) -> tuple[list[dict[str, Any]], int, int] | web.Response:
        params: dict[str, Any] = dict(request.query)
        if isinstance(body_of(request), dict):
            params.update(body_of(request))
        try:
            found = self.rules.search(str(params.get("jql", "")))
        except JqlError as exc:
            return _errors([str(exc)])
        start = int(params.get("startAt", 0) or 0)
        limit = int(params.get("maxResults", 50) or 50)
        wanted = self._wanted_fields(request)
        page = [self.state.issue_json(self.base_url, i, wanted) for i in found[start : start + limit]]
        return page, start, len(found)

    async def _search(self, request: web.Request) -> web.StreamResponse:
        with self.lock:
            denied = self._auth(request)
            if denied:
                return denied
            if self.deployment_type == "Cloud":
                message = (
                    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
                    "A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"
                )
                return _errors([message], status=410)
            result = self._run_search(request)
            if isinstance(result, web.Response):
                return result
            page, start, total = result
            limit = int(request.query.get("maxResults", 50) or 50)
            return json_response(
                {
                    "expand": "names,schema",
                    "startAt": start,
                    "maxResults": limit,
                    "total": total,
                    "issues": page,
                }
            )

    async def _search_jql(self, request: web.Request) -> web.StreamResponse:
        with self.lock:
            denied = self._auth(request)
            if denied:
                return denied
            result = self._run_search(request)
            if isinstance(result, web.Response):
                return result
            page, start, total = result
            data: dict[str, Any] = {"issues": page, "isLast": start + len(page) >= total}
            if not data["isLast"]:
                data["nextPageToken"] = str(start + len(page))
            return json_response(data)

    async def _create_link(self, request: web.Request) -> web.StreamResponse:
        body = body_of(request) if isinstance(body_of(request), dict) else {}
        with self.lock:
            denied = self._auth(request)
            if denied:
                return denied
            wanted = body.get("type") or {}
            link_type = next(
                (t for t in LINK_TYPES if wanted.get("name") in (t["name"],) or wanted.get("id") == t["id"]),
                None,
            )
            if link_type is None:
                return _errors([f"No issue link type with name '{wanted.get('name')}' found."], status=404)
            keys = []
            for side in ("inwardIssue", "outwardIssue"):
                ref = body.get(side) or {}
                issue = self.state.issue(str(ref.get("key") or ref.get("id") or ""))
                if issue is None:
                    return _errors(["Issue Does Not Exist"], status=404)
                keys.append(issue.key)
            link = Link(str(10000 + len(self.state.links)), link_type, keys[0], keys[1])
            self.state.links.append(link)
            comment = body.get("comment")
            if isinstance(comment, dict) and comment.get("body"):
                self.rules.comment(self.state.issues[keys[0]], comment["body"], request[USER])
            return web.Response(status=201)

    async def _get_link(self, request: web.Request) -> web.StreamResponse:
        with self.lock:
            denied = self._auth(request)
            if denied:
                return denied
            link = next((link for link in self.state.links if link.id == request.match_info["id"]), None)
            if link is None:
                return _errors([f"No issue link with id '{request.match_info['id']}' exists."], status=404)
            return json_response(
                {
                    "id": link.id,
                    "self": f"{self.base_url}/rest/api/2/issueLink/{link.id}",
                    "type": self.state.link_type_json(self.base_url, link.type),
                    "inwardIssue": self.state.brief_issue(self.base_url, self.state.issues[link.inward]),
                    "outwardIssue": self.state.brief_issue(self.base_url, self.state.issues[link.outward]),
                }
            )

    async def _link_types(self, request: web.Request) -> web.StreamResponse:
        return self._auth(request) or json_response(
            {"issueLinkTypes": [self.state.link_type_json(self.base_url, t) for t in LINK_TYPES]}
        )

    # ----- helpers for tests and the demo -----
    def create_project(self, key: str, name: str | None = None, *, lead: str = "admin") -> dict[str, Any]:
        """A project (all standard issue types available)."""
        with self.lock:
            project = Project(str(self.state.next_project_id), key.upper(), name or key, lead)
            self.state.next_project_id += 1
            self.state.projects[project.key] = project
            return {"id": project.id, "key": project.key, "name": project.name}

    def add_custom_field(self, name: str, field_id: str | None = None) -> str:
        """A settable, searchable custom text field; returns its id (customfield_NNNNN)."""
        with self.lock:
            fid = field_id or f"customfield_{10100 + len(self.state.custom_fields)}"
            self.state.custom_fields[fid] = name
            return fid

    def set_status(self, key: str, name: str) -> None:
        """Test helper: move an issue to "To Do", "In Progress" or "Done" as a person would in Jira."""
        tid = next(t for t, n in TRANSITIONS.items() if n == name)
        with self.lock:
            issue = self.state.issue(key)
            assert issue is not None, key
            self.rules.transition(issue, tid)

    def issues(self, project: str | None = None) -> list[dict[str, Any]]:
        """Issues as GET /issue returns them, oldest first."""
        with self.lock:
            return [
                self.state.issue_json(self.base_url, i)
                for i in self.state.issues.values()
                if project is None or i.project == project.upper()
            ]

    def issue(self, key: str) -> dict[str, Any]:
        """One issue's JSON; KeyError when missing."""
        with self.lock:
            found = self.state.issue(key)
            if found is None:
                raise KeyError(key)
            return self.state.issue_json(self.base_url, found)

    def links(self) -> list[tuple[str, str, str]]:
        """(type name, inward key, outward key) for every link."""
        with self.lock:
            return [(link.type["name"], link.inward, link.outward) for link in self.state.links]
