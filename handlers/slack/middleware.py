"""Tenant resolution: the workspace (or enterprise) a request comes from must be bound to an org."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncBoltContext
from slack_bolt.response import BoltResponse

from handlers.slack.services import SlackServices
from incident_core.errors import StoreUnavailable

UNLINKED = ("This Slack workspace is not linked to a Runbook Revenant org. An admin can run "
            "`revenant org link-slack ORG {team}` (or install the app through OAuth).")


def team_of(body: dict[str, Any]) -> tuple[str | None, str | None]:
    """(team id, enterprise id) of any Slack payload shape."""
    team = body.get("team_id") or (body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id")
    enterprise = body.get("enterprise_id") or (body.get("enterprise") or {}).get("id")
    if isinstance(body.get("authorizations"), list) and body["authorizations"]:
        auth = body["authorizations"][0]
        team = team or auth.get("team_id")
        enterprise = enterprise or auth.get("enterprise_id")
    return team, enterprise


def tenant_middleware(services: SlackServices) -> Callable[..., Awaitable[Any]]:
    """Put `org_id` into the Bolt context, or answer and stop for unlinked workspaces."""

    async def resolve_tenant(body: dict[str, Any], context: AsyncBoltContext,
                             next: Callable[[], Awaitable[None]]) -> BoltResponse | None:  # noqa: A002
        team, enterprise = team_of(body)
        org_id = None
        try:
            for key in (enterprise, team):
                if key and org_id is None:
                    org_id = services.known_org(key) or await asyncio.to_thread(services.bound_org, key)
        except StoreUnavailable as exc:  # Slack retries events and shows commands an error: nothing is lost
            return BoltResponse(status=503, body=json.dumps({"error": str(exc)}),
                                headers={"content-type": ["application/json"],
                                         "retry-after": [str(exc.retry_after)]})
        if org_id is None:
            if body.get("command"):
                text = UNLINKED.format(team=team or "TEAM_ID")
                return BoltResponse(status=200, body=json.dumps({"response_type": "ephemeral", "text": text}),
                                    headers={"content-type": ["application/json"]})
            return BoltResponse(status=200, body="")  # events from unknown workspaces: acknowledged, ignored
        context["org_id"] = org_id
        await next()
        return None

    return resolve_tenant
