"""Builds the Bolt AsyncApp, its HTTP route with signature and replay checks, and the Slack room keeper."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.bootstrap import App
from handlers.slack.outbound import SlackChat, make_client
from handlers.slack.register import register
from handlers.slack.services import SlackServices
from incident_core.chat_service import ChatService
from incident_core.rooms import ensure_room, plan_for, refresh_room
from storage.outbox import PendingMessage
from storage.replay_guard import ReplayGuard

log = logging.getLogger("revenant.slack")


def slack_enabled(app: App) -> bool:
    return app.settings.slack_signing_secret is not None and app.settings.slack_bot_token is not None


def build_bolt(app: App, incident_changed: Callable[[], Awaitable[None]]) -> AsyncApp:
    """Token mode: one workspace, SLACK_BOT_TOKEN; the workspace is bound with `org link-slack`."""
    s = app.settings
    assert s.slack_signing_secret is not None and s.slack_bot_token is not None
    client = AsyncWebClient(token=s.slack_bot_token.get_secret_value(), base_url=s.slack_api_url or
                            AsyncWebClient.BASE_URL, timeout=2.5)
    bolt = AsyncApp(signing_secret=s.slack_signing_secret.get_secret_value(), client=client,
                    process_before_response=False, request_verification_enabled=True)
    services = SlackServices(chat=ChatService(deps=app.deps, queries=app.queries), queries=app.queries,
                             deps=app.deps, bound_org=lambda team: app.directory.bound_org("slack", team),
                             incident_changed=incident_changed)
    register(bolt, services)
    return bolt


def slack_route(app: App, bolt: AsyncApp) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """POST /slack/events: verify the v0 signature on the raw body and refuse replays before Bolt runs."""
    secret = app.settings.slack_signing_secret
    assert secret is not None
    verifier = SignatureVerifier(secret.get_secret_value())
    guard = ReplayGuard(app.engine)

    async def handle(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        ts = request.headers.get("X-Slack-Request-Timestamp", "")
        signature = request.headers.get("X-Slack-Signature", "")
        if not verifier.is_valid(body=body, timestamp=ts, signature=signature):
            return web.json_response({"error": "invalid or stale Slack signature"}, status=401)
        if not await _first_sight(guard, signature, ts):
            return web.json_response({"error": "replayed request"}, status=401)
        bolt_request = await to_bolt_request(request)
        return await to_aiohttp_response(await bolt.async_dispatch(bolt_request))

    return handle


async def _first_sight(guard: ReplayGuard, signature: str, ts: str) -> bool:
    return await asyncio.to_thread(guard.first_sight, signature, int(ts) if ts.isdigit() else int(time.time()))


def slack_chat_for(app: App) -> Callable[[str], SlackChat | None]:
    """The outbound Slack adapter for an org, or None when the org has no Slack workspace bound."""
    s = app.settings
    client = make_client(s.slack_bot_token.get_secret_value(), s.slack_api_url) if s.slack_bot_token else None

    def factory(org_id: str) -> SlackChat | None:
        if client is None or not app.directory.bindings(org_id, "slack"):
            return None
        return SlackChat(client)

    return factory


class SlackRoomKeeper:
    """Outbox subscriber: opens incident channels and keeps their war-room message current."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.chat_for = slack_chat_for(app)

    def __call__(self, msg: PendingMessage) -> None:
        chat = self.chat_for(msg.org_id)
        if chat is None:
            return
        incident_id = msg.payload["incident_id"]
        state = self.app.queries.get(msg.org_id, incident_id)
        if state is None:
            return
        if "slack" in state.rooms:
            refresh_room(deps=self.app.deps, queries=self.app.queries, chat=chat, org_id=msg.org_id,
                         incident_id=incident_id)
            return
        org = self.app.directory.require_org(msg.org_id)
        slack_settings: dict[str, Any] = org.settings.get("slack", {})
        project = self.app.directory.project(msg.org_id, state.project_id) if state.project_id else None
        auto = (project.settings.get("auto_channel", True) if project
                else bool(slack_settings.get("auto_channel", False)))
        if state.source == "chat" or auto:
            responders = [f"slack:{u}" for u in (project.settings.get("responders", []) if project else [])]
            plan = plan_for(state, responders=responders, announce_to=slack_settings.get("announce_channel"))
            ensure_room(deps=self.app.deps, queries=self.app.queries, chat=chat, org_id=msg.org_id,
                        incident_id=incident_id, plan=plan)


def mount(web_app: web.Application, app: App, incident_changed: Callable[[], Awaitable[None]]) -> None:
    """Mount /slack/events when Slack is configured."""
    if not slack_enabled(app):
        async def disabled(_request: web.Request) -> web.Response:
            return web.json_response({"error": "Slack is not configured: set SLACK_SIGNING_SECRET and "
                                      "SLACK_BOT_TOKEN"}, status=503)
        web_app.router.add_post("/slack/events", disabled)
        return
    bolt = build_bolt(app, incident_changed)
    web_app.router.add_post("/slack/events", slack_route(app, bolt))

