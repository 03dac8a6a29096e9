"""POST /hooks/github?org=ORG&source=SOURCE: a GitHub push to a runbook source, verified with the source's
secret (X-Hub-Signature-256, 401 otherwise), answered at once; the sync runs after the answer."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from aiohttp import web

from incident_core.knowledge_sources import KnowledgeSource, SignatureInvalid

log = logging.getLogger("revenant.github_push")
MAX_BODY = 1024 * 1024
Verify = Callable[[str, str, bytes, str], KnowledgeSource]


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


class GitHubPushEndpoint:
    """Verifies the signature before reading anything else, then hands the source to `schedule`."""

    def __init__(self, *, verify: Verify, schedule: Callable[[KnowledgeSource], None]) -> None:
        self._verify = verify
        self._schedule = schedule

    def register(self, app: web.Application) -> None:
        """Mount the route (before the generic /hooks/{source} route, which it would otherwise hit)."""
        app.router.add_post("/hooks/github", self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        """202 for a push to the source's ref (sync scheduled), 200 for ping, 202 ignored for the rest."""
        if request.content_length is not None and request.content_length > MAX_BODY:
            return _error(413, f"body larger than {MAX_BODY} bytes")
        body = await request.read()
        org_id, source_id = request.query.get("org", ""), request.query.get("source", "")
        try:
            source = self._verify(org_id, source_id, body, request.headers.get("X-Hub-Signature-256", ""))
        except SignatureInvalid as exc:
            return _error(401, f"{exc}; the webhook URL must name ?org=…&source=… and use that source's secret")
        event = request.headers.get("X-GitHub-Event", "")
        if event == "ping":
            return web.json_response({"ok": True, "source": source.source_id})
        if event != "push":
            return web.json_response({"ignored": f"event {event or 'without a name'}"}, status=202)
        try:
            payload = json.loads(body)
        except ValueError:
            return _error(400, "the body is not JSON")
        ref = str(payload.get("ref", "")) if isinstance(payload, dict) else ""
        if ref not in (source.ref, f"refs/heads/{source.ref}", f"refs/tags/{source.ref}"):
            return web.json_response({"ignored": f"push to {ref or 'no ref'}, the source follows {source.ref}"},
                                     status=202)
        self._schedule(source)
        return web.json_response({"sync": "scheduled", "source": source.source_id}, status=202)
