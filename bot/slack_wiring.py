"""Builds the Bolt AsyncApp, its HTTP route with signature and replay checks, and the OAuth installation store."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.oauth.async_callback_options import AsyncCallbackOptions as CallbackOptions
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.acked_loop import AckedLoop
from bot.binding_cache import BindingCache
from bot.bootstrap import App
from bot.slack_identity import NOT_THIS_WORKSPACE
from handlers.http_edge import read_body
from handlers.priority import AckPriority
from handlers.replay_batch import BatchedFirstSight
from handlers.slack.durable_runner import DurableLazyRunner, kept_headers
from handlers.slack.register import register
from handlers.slack.services import SlackServices
from incident_core.chat_service import ChatService
from incident_core.errors import StoreUnavailable
from storage.acked_work import AckedItem, AckedWork, Arrival
from storage.secret_box import SecretBox
from storage.slack_installations import SqlInstallationStore, SqlOAuthStateStore

log = logging.getLogger("revenant.slack")
BOLT_KEY = web.AppKey("slack_bolt", AsyncApp)


def slack_mode(app: App) -> str | None:
    """"oauth" (multi-workspace install), "token" (one workspace), or None when Slack is off."""
    s = app.settings
    if s.slack_signing_secret is None:
        return None
    if s.slack_client_id and s.slack_client_secret:
        return "oauth"
    return "token" if s.slack_bot_token else None


def slack_enabled(app: App) -> bool:
    return slack_mode(app) is not None


def api_url(app: App) -> str:
    """The Slack Web API base URL (SLACK_API_URL, or Slack's), ending in a slash."""
    url = app.settings.slack_api_url or AsyncWebClient.BASE_URL
    return url if url.endswith("/") else url + "/"


def manifest_scopes() -> list[str]:
    """The bot scopes declared in app_manifest.yml (what an OAuth install asks for)."""
    import yaml

    path = Path(__file__).resolve().parents[1] / "app_manifest.yml"
    if not path.exists():
        return ["commands", "chat:write"]
    return list(yaml.safe_load(path.read_text())["oauth_config"]["scopes"]["bot"])


def installation_store(app: App) -> SqlInstallationStore:
    assert app.settings.slack_client_id is not None
    key = app.settings.encryption_key
    if key is None:
        raise ValueError("Slack OAuth stores every workspace's tokens: set REVENANT_ENCRYPTION_KEY (a Fernet key; "
                         "make one with python -c 'from cryptography.fernet import Fernet; "
                         "print(Fernet.generate_key().decode())') so they are encrypted at rest")
    return SqlInstallationStore(app.settings.slack_client_id, app.engine, SecretBox(key.get_secret_value()),
                                on_change=app.chat_changes.changed)


def _bind_installation(app: App) -> Callable[[Any], Awaitable[Any]]:
    """After an OAuth install, bind the workspace (or enterprise) to an org, creating one if needed."""

    async def success(args: Any) -> Any:
        installation = args.installation
        key = installation.enterprise_id if installation.is_enterprise_install else installation.team_id
        name = (installation.enterprise_name if installation.is_enterprise_install else installation.team_name) or key

        def bind() -> None:
            # A new workspace always gets its own org: joining an existing org by a matching name
            # would let any workspace called "acme" into acme's incidents.
            if app.directory.bound_org("slack", key):
                return
            org = app.directory.create_org(name if app.directory.org(name) is None else f"{name} ({key})")
            app.directory.bind("slack", key, org.id)

        await asyncio.to_thread(bind)
        return await args.default.success(args)

    return success


def build_bolt(app: App, incident_changed: Callable[[], Awaitable[None]],
               wake: Callable[[], None] = lambda: None) -> AsyncApp:
    """Token mode (one workspace, bound with `org link-slack`) or OAuth mode (installs bind themselves).

    Bolt's own signature check is off: slack_route verifies every HTTP request (and refuses replays)
    before Bolt sees it, and Socket Mode traffic is not signed.
    """
    s = app.settings
    assert s.slack_signing_secret is not None
    secret = s.slack_signing_secret.get_secret_value()
    # slack_sdk annotates timeout as int; it takes seconds as a float.
    client = AsyncWebClient(base_url=api_url(app), timeout=2.5)  # type: ignore[arg-type]
    if slack_mode(app) == "oauth":
        assert s.slack_client_id is not None and s.slack_client_secret is not None
        flow = AsyncOAuthFlow(client=AsyncWebClient(base_url=api_url(app), timeout=10), settings=AsyncOAuthSettings(
            client_id=s.slack_client_id, client_secret=s.slack_client_secret.get_secret_value(),
            scopes=manifest_scopes(), installation_store=installation_store(app),
            state_store=SqlOAuthStateStore(app.engine),
            callback_options=CallbackOptions(success=_bind_installation(app), failure=_failure)))
        bolt = AsyncApp(signing_secret=secret, oauth_flow=flow, client=client,
                        process_before_response=False, request_verification_enabled=False)
    else:  # token mode: exactly the token's workspace (bot/slack_identity.py)
        bolt = AsyncApp(signing_secret=secret, client=client,
                        authorize=app.slack_identity.authorizer(), user_facing_authorize_error_message=NOT_THIS_WORKSPACE,
                        process_before_response=False, request_verification_enabled=False)
    from bot.guidance_wiring import suggest_extra
    from bot.insights_wiring import patterns_extra

    extras = {**suggest_extra(app), **patterns_extra(app)}

    bindings = BindingCache(lambda team: app.directory.bound_org("slack", team))
    services = SlackServices(chat=ChatService(deps=app.deps, queries=app.queries, extra=extras),
                             queries=app.queries, deps=app.deps,
                             bound_org=bindings.lookup, known_org=bindings.known,
                             incident_changed=incident_changed, executor=app.executor)
    register(bolt, services)
    # Lazy work runs from the durable record of acknowledged requests (handlers/slack/durable_runner.py).
    DurableLazyRunner(logging.getLogger("revenant.slack.lazy"), wake).install(bolt)
    return bolt


def slack_worker(bolt: AsyncApp) -> Callable[[AckedItem], Awaitable[None]]:
    """Works one recorded Slack request: its lazy listeners, run from the record."""
    runner = bolt.listener_runner.lazy_listener_runner
    assert isinstance(runner, DurableLazyRunner)

    async def work(item: AckedItem) -> None:
        await runner.work(bolt, body=item.body, headers=item.headers, mode=item.mode)

    return work


def slack_route(app: App, bolt: AsyncApp, priority: AckPriority | None = None,
                acked: AckedWork | None = None) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """POST /slack/events: verify the v0 signature on the raw body, then, in one transaction, refuse replays
    and record what is about to be acknowledged; only then does Bolt run (and acknowledge)."""
    secret = app.settings.slack_signing_secret
    assert secret is not None
    verifier = SignatureVerifier(secret.get_secret_value())
    first_sight = BatchedFirstSight((acked or AckedWork(app.engine)).record)

    async def handle(request: web.Request) -> web.StreamResponse:
        if priority is None:
            return await verified(request)
        with priority.acking():
            return await verified(request)

    async def verified(request: web.Request) -> web.StreamResponse:
        body = await read_body(request, limit=request.client_max_size)
        ts = request.headers.get("X-Slack-Request-Timestamp", "")
        signature = request.headers.get("X-Slack-Signature", "")
        if not verifier.is_valid(body=body, timestamp=ts, signature=signature):
            return web.json_response({"error": "invalid or stale Slack signature"}, status=401)
        text = body.decode("utf-8", "replace")
        try:
            recorded = await first_sight(Arrival(key=signature, platform="slack", body=text,
                                                 headers=kept_headers(request.headers)))
        except StoreUnavailable as exc:  # one line per request while the database is away, not a traceback
            log.warning("replay check: %s", exc)
            return web.json_response({"error": "cannot record the request right now; retry shortly"},
                                     status=503, headers={"Retry-After": str(exc.retry_after)})
        except Exception:  # noqa: BLE001 - the database is unreachable: Slack retries a 503
            log.exception("replay check failed")
            return web.json_response({"error": "cannot record the request right now; retry shortly"},
                                     status=503, headers={"Retry-After": "1"})
        if recorded is None:
            return web.json_response({"error": "replayed request"}, status=401)
        bolt_request = AsyncBoltRequest(body=text, query=request.query_string,
                                        headers=request.headers)  # type: ignore[arg-type]
        return await to_aiohttp_response(await bolt.async_dispatch(bolt_request))

    return handle


async def _failure(args: Any) -> Any:
    return await args.default.failure(args)


def mount(web_app: web.Application, app: App, incident_changed: Callable[[], Awaitable[None]],
          priority: AckPriority | None = None, acked: AckedLoop | None = None) -> None:
    """Mount /slack/events when Slack is configured; `acked` works what it acknowledges."""
    if not slack_enabled(app):
        async def disabled(_request: web.Request) -> web.Response:
            return web.json_response({"error": "Slack is not configured: set SLACK_SIGNING_SECRET and "
                                      "SLACK_BOT_TOKEN"}, status=503)
        web_app.router.add_post("/slack/events", disabled)
        return
    bolt = build_bolt(app, incident_changed, acked.nudge if acked else lambda: None)
    if acked is not None:
        acked.workers["slack"] = slack_worker(bolt)
    web_app.router.add_post("/slack/events", slack_route(app, bolt, priority, acked.store if acked else None))
    flow = bolt.oauth_flow
    if flow is not None:
        async def oauth(request: web.Request) -> web.StreamResponse:
            bolt_request = await to_bolt_request(request)
            handler = flow.handle_installation if request.path == flow.install_path else flow.handle_callback
            return await to_aiohttp_response(await handler(bolt_request))

        web_app.router.add_get(flow.install_path, oauth)
        web_app.router.add_get(flow.redirect_uri_path, oauth)
    web_app[BOLT_KEY] = bolt
