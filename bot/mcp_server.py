"""`revenant mcp`: read-only MCP tools over ONE org — runbook search, incidents, timelines, postmortems, patterns.

The org is fixed by a token at start (an org webhook token, `rvn_<org id>_…`, checked like the webhook
endpoint does). Over streamable HTTP every request must also carry that token as a bearer token, so a
reachable port does not expose the org to anyone who finds it. Nothing here writes.
"""

from __future__ import annotations

import hmac
from typing import Any

from mcp.server.fastmcp import FastMCP

from bot.bootstrap import App
from incident_core.errors import NotFound, PermissionDenied
from incident_core.postmortem_usecases import view_of
from incident_core.timeline import to_json
from publishers.markdown import to_markdown

MAX_EVENTS = 500


def org_for_token(app: App, token: str) -> str:
    """The org a token belongs to; PermissionDenied (saying what to use) otherwise."""
    owner = app.directory.authenticate_token(token.strip()) if token else None
    if owner is None:
        raise PermissionDenied("that token is not a valid org token: use the org's webhook token "
                               "(`revenant org create` prints one; `revenant org token rotate ORG` issues another)")
    return owner.org_id


def _summary(state: Any) -> dict[str, Any]:
    return {"id": state.human_id, "uuid": state.incident_id, "title": state.title, "status": state.status.value,
            "severity": state.severity.value, "commander": state.commander, "services": list(state.services),
            "created_at": state.created_at.isoformat(), "postmortem": state.postmortem.status}


def build_mcp(app: App, org_id: str, **settings: Any) -> FastMCP:
    """The FastMCP server whose every tool reads `org_id` only."""
    mcp = FastMCP("revenant", instructions="Read-only access to one organization's incidents, timelines, "
                  "postmortems and runbooks in Runbook Revenant.", **settings)

    def incident(ref: str) -> Any:
        state = app.queries.get(org_id, ref)
        if state is None:
            raise NotFound(f"no incident {ref!r} in this org; list_incidents shows what exists")
        return state

    @mcp.tool()
    def search_runbooks(query: str, k: int = 5) -> dict[str, Any]:
        """Search this org's runbooks and past postmortems; best first, each with source, score and text."""
        hits = app.knowledge.search(org_id, query, k=max(1, min(int(k), 20)))
        return {"results": [{"source": h.source, "score": h.score, "title": h.title, "kind": h.kind,
                             "text": h.text[:2000]} for h in hits]}

    @mcp.tool()
    def list_incidents(open_only: bool = False, limit: int = 20) -> dict[str, Any]:
        """This org's incidents, newest first (INC-n ids, title, status, severity, postmortem status)."""
        items = app.queries.list_incidents(org_id, open_only=open_only, limit=max(1, min(int(limit), 200)))
        return {"incidents": [_summary(s) for s in items]}

    @mcp.tool()
    def get_timeline(incident_ref: str) -> dict[str, Any]:
        """One incident's timeline, oldest first: type, version, time, actor, summary and data of each event."""
        state = incident(incident_ref)
        events = app.queries.timeline(org_id, state.incident_id)
        return {"incident": state.human_id, "events": [to_json(e) for e in events[-MAX_EVENTS:]],
                "truncated": len(events) > MAX_EVENTS}

    @mcp.tool()
    def get_postmortem(incident_ref: str) -> dict[str, Any]:
        """One incident's postmortem: status, Markdown (citations `[ev N]`), action items, where published."""
        state = incident(incident_ref)
        view = view_of(state)
        return {"incident": state.human_id, "status": view.status, "markdown": to_markdown(view.document),
                "action_items": view.action_items, "published": state.postmortem.published,
                "blameless_warnings": [f"{f.section}: {f.phrase} — {f.suggestion}" for f in view.findings]}

    @mcp.tool()
    def get_patterns(service: str | None = None, since: str = "90d", project: str | None = None) -> dict[str, Any]:
        """Recurring patterns of this org: incidents grouped by service and alert, with count, last occurrence,
        MTTA and MTTR (seconds), severities, postmortems and their action items (open or done). `since`: 30d,
        90d or 12w; `service` and `project` narrow it."""
        from bot.insights_wiring import history, tracker_for
        from incident_core.insights import parse_period
        from incident_core.insights_usecases import pattern_report

        found = app.directory.project(org_id, project) if project else None
        if project and found is None:
            raise NotFound(f"no project {project!r} in this org")
        report = pattern_report(history=history(app), tracker=tracker_for(app)(org_id), org_id=org_id,
                                now=app.deps.clock.now(), period=parse_period(since),
                                project_id=found.id if found else None, project=found.name if found else None,
                                service=service or None)
        return report.to_dict()

    return mcp


def bearer_guard(inner: Any, app: App, org_id: str) -> Any:
    """ASGI wrapper: every HTTP request needs `Authorization: Bearer <a token of this org>` (401 otherwise)."""

    async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            header = dict(scope.get("headers") or []).get(b"authorization", b"").decode(errors="replace")
            token = header[7:].strip() if header.lower().startswith("bearer ") else ""
            owner = app.directory.authenticate_token(token) if token else None
            if owner is None or not hmac.compare_digest(owner.org_id, org_id):
                await send({"type": "http.response.start", "status": 401,
                            "headers": [(b"content-type", b"application/json"),
                                        (b"www-authenticate", b'Bearer realm="revenant"')]})
                await send({"type": "http.response.body",
                            "body": b'{"error": "send this org\'s token as Authorization: Bearer <token>"}'})
                return
        await inner(scope, receive, send)

    return guarded


def run_mcp(app: App, token: str, *, http_port: int | None = None, host: str = "127.0.0.1") -> None:
    """Serve over stdio (default) or streamable HTTP at http://HOST:PORT/mcp."""
    org_id = org_for_token(app, token)
    if http_port is None:
        build_mcp(app, org_id).run("stdio")
        return
    import uvicorn

    server = build_mcp(app, org_id, host=host, port=http_port)
    uvicorn.run(bearer_guard(server.streamable_http_app(), app, org_id), host=host, port=http_port,
                log_level="warning", lifespan="on")
