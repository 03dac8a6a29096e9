"""Builds the Teams CloudAdapter and bot, and routes POST /api/messages ourselves.

botbuilder 4.17.1's aiohttp `CloudAdapter.process()` serializes invoke bodies twice and answers
every Action.Execute with HTTP 500, so the route deserializes the activity, authenticates it,
runs `process_activity` and writes the invoke body itself (see docs/teams.md).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from types import SimpleNamespace
from typing import Any

import jwt
from aiohttp import web
from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity, ActivityTypes
from botframework.connector.auth import AuthenticateRequestResult, AuthenticationConstants

from bot.acked_loop import AckedLoop, acked_store
from bot.bootstrap import App
from bot.teams_connector import FailFastAuthentication
from bot.teams_keys import KeysUnavailable, SigningKeys, TokenRejected, metadata_url
from handlers.http_edge import read_body
from handlers.replay_batch import BatchedFirstSight
from handlers.teams.bot import RevenantTeamsBot
from handlers.teams.commands import reply
from handlers.teams.errors import explain
from handlers.teams.middleware import TenantMiddleware
from handlers.teams.roster import Roster
from handlers.teams.services import TeamsServices
from handlers.teams.takeover import show_answer
from incident_core.chat_service import ChatService
from incident_core.errors import StoreUnavailable
from storage.acked_work import AckedItem, Arrival
from storage.replay_guard import ReplayGuard
from storage.teams_conversations import SqlTeamsConversations
from storage.teams_people import SqlTeamsPeople

log = logging.getLogger("revenant.teams")

DISABLED = ("Microsoft Teams is not configured: set MICROSOFT_APP_ID and MICROSOFT_APP_PASSWORD (plus "
            "MICROSOFT_APP_TENANT_ID for a single-tenant app). For local development only, "
            "REVENANT_TEAMS_ALLOW_UNAUTHENTICATED=1 serves /api/messages without authentication.")
UNAUTHENTICATED = ("REVENANT_TEAMS_ALLOW_UNAUTHENTICATED=1 and no MICROSOFT_APP_ID: /api/messages accepts "
                   "UNAUTHENTICATED requests. Use this for local development only; never expose it.")


def teams_enabled(app: App) -> bool:
    """Teams is served with an app id (authenticated) or with the explicit development flag."""
    return bool(app.settings.microsoft_app_id) or app.settings.teams_allow_unauthenticated


def auth_settings(app: App) -> SimpleNamespace:
    """The configuration object botbuilder reads (APP_ID, APP_PASSWORD, APP_TYPE, APP_TENANTID)."""
    s = app.settings
    values: dict[str, Any] = {
        "APP_ID": s.microsoft_app_id or "",
        "APP_PASSWORD": s.microsoft_app_password.get_secret_value() if s.microsoft_app_password else "",
        "APP_TYPE": "SingleTenant" if s.microsoft_app_tenant_id else "MultiTenant",
    }
    if s.microsoft_app_tenant_id:
        values["APP_TENANTID"] = s.microsoft_app_tenant_id
    values.update(app.overrides.get("teams_auth_settings") or {})
    return SimpleNamespace(**values)


def build_adapter(app: App) -> CloudAdapter:
    """A CloudAdapter for this app id; errors propagate (the outbox retries failed proactive posts)."""
    settings = auth_settings(app)
    factory = app.overrides.get("teams_credentials_factory")
    if settings.APP_ID and factory is None and not settings.APP_PASSWORD and settings.APP_TYPE != "UserAssignedMSI":
        raise ValueError("MICROSOFT_APP_ID is set but MICROSOFT_APP_PASSWORD is not: set the app's client secret")
    return CloudAdapter(FailFastAuthentication(settings, credentials_factory=factory))


async def on_turn_error(context: TurnContext, error: Exception) -> None:
    """The inbound error handler: log with a reference, and show it to the person when they wrote to us.

    A database that does not answer is raised on to the route, which answers 503 with Retry-After.
    """
    if isinstance(error, StoreUnavailable):
        raise error
    content = explain(error)
    if context.activity.type == ActivityTypes.message:
        try:
            await reply(context, content)
        except Exception:  # noqa: BLE001 — the connector may be what failed; the error is logged
            log.warning("could not tell the user about the failure")


def teams_roster(app: App) -> Roster:
    """The process's bounded roster lookups for people with no recorded Teams account, one per app so replies
    and thread posts share its rate-limit pauses and remembered misses (override `teams_roster`: a Roster, or
    a dict of its bounds)."""
    given = app.overrides.get("teams_roster")
    if isinstance(given, Roster):
        return given
    roster = Roster(**(given or {}))
    app.overrides["teams_roster"] = roster  # built once; the next caller shares it
    return roster


def build_bot(app: App, incident_changed: Callable[[], Awaitable[None]]) -> tuple[CloudAdapter, RevenantTeamsBot]:
    """The inbound adapter (tenant middleware first) and the activity handler over the shared ChatService."""
    guard = ReplayGuard(app.engine)
    logging.getLogger("msrest.serialization").setLevel(logging.ERROR)  # Teams sends keys the models lack

    def first_answer(key: str) -> bool:
        return guard.first_sight("teams-answer:" + hashlib.sha256(key.encode()).hexdigest()[:48], int(time.time()))

    from bot.guidance_wiring import suggest_extra
    from bot.insights_wiring import patterns_extra

    extras = {**suggest_extra(app), **patterns_extra(app)}

    services = TeamsServices(
        chat=ChatService(deps=app.deps, queries=app.queries, extra=extras), queries=app.queries,
        deps=app.deps, executor=app.executor, store=SqlTeamsConversations(app.engine),
        bound_org=lambda tenant: app.directory.bound_org("teams", tenant), first_answer=first_answer,
        incident_changed=incident_changed, names=app.directory.display_names, people=SqlTeamsPeople(app.engine),
        roster=teams_roster(app))
    adapter = build_adapter(app)
    adapter.on_turn_error = on_turn_error
    adapter.use(TenantMiddleware(services))
    return adapter, RevenantTeamsBot(services)


def _bad(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _redelivered(activity: Activity) -> web.Response:
    if activity.type == ActivityTypes.invoke:
        return web.json_response({"statusCode": 200, "type": "application/vnd.microsoft.activity.message",
                                  "value": "Already received; it is handled once."})
    return web.Response(status=201)


def trusted_turn(adapter: CloudAdapter, app_id: str, activity: Activity) -> AuthenticateRequestResult:
    """What authenticating a recorded activity gave when it arrived: the bot's own identity toward its
    service URL (as for proactive messages). Only activities this app authenticated are recorded."""
    claims = adapter.create_claims_identity(app_id)
    claims.claims[AuthenticationConstants.SERVICE_URL_CLAIM] = activity.service_url
    result = AuthenticateRequestResult()
    result.claims_identity = claims
    result.connector_factory = adapter.bot_framework_authentication.create_connector_factory(claims)
    return result


def teams_worker(app: App, adapter: CloudAdapter, bot: RevenantTeamsBot) -> Callable[[AckedItem], Awaitable[None]]:
    """Works a recorded activity whose process died before finishing it (taken over after its lease)."""
    app_id = auth_settings(app).APP_ID

    async def work(item: AckedItem) -> None:
        activity = Activity().deserialize(json.loads(item.body))
        response = await adapter.process_activity(trusted_turn(adapter, app_id, activity), activity, bot.on_turn)
        await show_answer(adapter, app_id, activity, response)  # the clicker's request died with its process

    return work


def messages_route(adapter: CloudAdapter, bot: RevenantTeamsBot, acked: AckedLoop,
                   keys: SigningKeys | None = None) -> Callable[[web.Request], Awaitable[web.Response]]:
    """POST /api/messages: 401 for a missing or invalid token (503 while the signing keys cannot be fetched),
    the invoke body for invokes, 201 otherwise. Each activity is recorded (replays refused) before it is worked."""
    store = acked.store

    def claimed(arrivals: Sequence[Arrival]) -> list[int | None]:
        return store.record(arrivals, claim=True)  # this process works it at once; others after its lease

    record = BatchedFirstSight(claimed)

    async def handle(request: web.Request) -> web.Response:
        if request.content_type != "application/json":
            return _bad(415, "send the activity as application/json")
        raw = await read_body(request, limit=request.client_max_size)
        try:
            body = json.loads(raw)
            activity = Activity().deserialize(body) if isinstance(body, dict) else None
        except Exception:  # noqa: BLE001 — any unreadable body is the sender's mistake
            activity = None
        if activity is None or not activity.type:
            return _bad(400, "the body must be a Bot Framework activity (a JSON object with a type)")
        header = request.headers.get("Authorization") or None  # botbuilder treats "" as a token
        if header is not None and not header.startswith("Bearer "):
            return _bad(401, "unauthorized: the Authorization header must be `Bearer <Bot Framework token>`")
        if header is not None and keys is not None:
            try:
                await keys.key(keys.check(header.removeprefix("Bearer ").strip()))
            except TokenRejected as exc:
                return _bad(401, f"unauthorized: {exc}")
            except KeysUnavailable as exc:
                return web.json_response({"error": str(exc)}, status=503,
                                         headers={"Retry-After": str(exc.retry_after)})
        try:
            authenticated = await adapter.bot_framework_authentication.authenticate_request(activity, header)
        except (PermissionError, jwt.PyJWTError) as exc:
            return _bad(401, f"unauthorized: {exc or 'invalid Bot Framework token'}")
        try:  # recorded (and leased to this process) before it is worked: a crash leaves it to another process
            recorded = await record(Arrival(key="teams:" + hashlib.sha256(raw).hexdigest()[:64], platform="teams",
                                            body=raw.decode("utf-8", "replace")))
        except StoreUnavailable as exc:
            return web.json_response({"error": str(exc)}, status=503,
                                     headers={"Retry-After": str(exc.retry_after)})
        except Exception:  # noqa: BLE001 - the database failed otherwise: the Bot Framework retries a 503
            log.exception("recording the activity failed")
            return web.json_response({"error": "cannot record the activity right now; retry shortly"},
                                     status=503, headers={"Retry-After": "1"})
        if recorded is None:  # a redelivery of an activity already recorded: it is worked once
            return _redelivered(activity)
        try:
            with acked.holding(recorded):  # however long it takes, no other process takes it over meanwhile
                response = await adapter.process_activity(authenticated, activity, bot.on_turn)
        except StoreUnavailable as exc:  # its lease runs out and the drain loop (of any process) works it
            return web.json_response({"error": str(exc)}, status=503,
                                     headers={"Retry-After": str(exc.retry_after)})
        except Exception:  # a bug, not an outage: not retried (a cancelled request is, after its lease)
            await asyncio.to_thread(store.finish, recorded, "failed while answering; see the log")
            raise
        await asyncio.to_thread(store.finish, recorded)
        if response is None:
            return web.Response(status=201)
        if response.body is None:
            return web.Response(status=int(response.status))
        return web.json_response(response.body, status=int(response.status))

    return handle


def mount(web_app: web.Application, app: App, incident_changed: Callable[[], Awaitable[None]],
          acked: AckedLoop | None = None) -> None:
    """Mount POST /api/messages: the bot, or a 503 that says what to configure."""
    if not teams_enabled(app):
        async def disabled(_request: web.Request) -> web.Response:
            return _bad(503, DISABLED)

        web_app.router.add_post("/api/messages", disabled)
        return
    if not app.settings.microsoft_app_id:
        log.warning(UNAUTHENTICATED)
    adapter, bot = build_bot(app, incident_changed)
    keys = SigningKeys(metadata_url(auth_settings(app))) if app.settings.microsoft_app_id else None
    if acked is not None:
        acked.workers["teams"] = teams_worker(app, adapter, bot)
    loop = acked if acked is not None else AckedLoop(acked_store(app), {}, monitor=app.acked_monitor)
    web_app.router.add_post("/api/messages", messages_route(adapter, bot, loop, keys))
