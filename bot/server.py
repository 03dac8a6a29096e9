"""The aiohttp server: one process serves Slack, Teams, webhooks, /healthz and /metrics."""

from __future__ import annotations

import asyncio
import logging

import sqlalchemy as sa
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot import reminders, slack_wiring, source_sync, teams_wiring
from bot.bootstrap import App
from bot.metrics import Metrics
from bot.outbox_loop import OutboxLoop
from handlers.github_push import GitHubPushEndpoint
from handlers.priority import AckPriority
from handlers.webhooks import WebhookEndpoint
from incident_core.intake import intake_signals

log = logging.getLogger("revenant.server")

APP_KEY = web.AppKey("revenant", App)
WARM_CONNECTIONS = 8
# Remote address, request line, status, bytes, seconds taken (the logging record carries the time).
ACCESS_LOG_FORMAT = '%a "%r" %s %b %Tf'
METRICS_KEY = web.AppKey("metrics", Metrics)


async def healthz(request: web.Request) -> web.Response:
    app = request.app[APP_KEY]

    def ping() -> None:
        with app.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    try:
        await asyncio.to_thread(ping)
    except Exception as exc:  # noqa: BLE001 — report, do not crash the probe
        return web.json_response({"status": "unhealthy", "database": str(exc).splitlines()[0]}, status=503)
    return web.json_response({"status": "ok", "database": app.engine.dialect.name})


async def readyz(request: web.Request) -> web.Response:
    """Readiness: the database and the knowledge store answer, and guidance is not failing."""
    app = request.app[APP_KEY]

    def check() -> dict[str, object]:
        with app.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        app.knowledge.heartbeat()
        return {}

    body: dict[str, object] = {"database": app.engine.dialect.name, "knowledge": "ok"}
    try:
        await asyncio.wait_for(asyncio.to_thread(check), timeout=5)
    except Exception as exc:  # noqa: BLE001 — report, do not crash the probe
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return web.json_response({"status": "not ready", "error": first}, status=503)
    ok, guidance = app.knowledge_health.status()
    body.update(guidance)
    return web.json_response({"status": "ready" if ok else "not ready", **body}, status=200 if ok else 503)


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS_KEY].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def build_web_app(app: App) -> web.Application:
    """Assemble every route on one aiohttp application."""
    web_app = web.Application(client_max_size=1024 * 1024 + 1)
    web_app[APP_KEY] = app
    web_app[METRICS_KEY] = metrics_ = Metrics.create(app.registry)
    _ = app.knowledge_health  # its metrics show from the start, at zero
    web_app.router.add_get("/healthz", healthz)
    web_app.router.add_get("/readyz", readyz)
    web_app.router.add_get("/metrics", metrics)
    GitHubPushEndpoint(verify=source_sync.verifier(app), schedule=source_sync.scheduler_for_pushes(app)).register(
        web_app)  # before /hooks/{source}
    WebhookEndpoint(
        authenticate=app.directory.authenticate_token,
        intake=lambda org_id, signals, project_id: intake_signals(
            deps=app.deps, org_id=org_id, signals=signals, token_project_id=project_id),
        metrics=metrics_,
        now=app.deps.clock.now,
    ).register(web_app)
    priority = AckPriority()  # acknowledgements first; lazy work and outbox deliveries yield to them
    loop = OutboxLoop(app, priority=priority)
    slack_wiring.mount(web_app, app, loop.nudge, priority=priority)
    teams_wiring.mount(web_app, app, loop.nudge)
    web_app.on_startup.append(loop.start)
    web_app.on_cleanup.append(loop.stop)
    reminders.attach(web_app, app)
    source_sync.attach(web_app, app)
    return web_app


def _warm(app: App) -> None:
    """Load the knowledge stack before taking traffic: importing it takes seconds of CPU, which would
    otherwise land on the first incident's requests (and everything queued behind them)."""
    held = [app.engine.connect() for _ in range(WARM_CONNECTIONS)]  # fill the pool before a burst needs it
    for conn in held:
        conn.close()
    log.info("loading the knowledge base and guidance …")
    try:
        _ = app.guidance
        app.knowledge.connect()
    except Exception as exc:  # noqa: BLE001 - serving chat and webhooks matters more; guidance retries on use
        log.warning("guidance unavailable until its problem is fixed: %s", exc)


def run_server(app: App, *, host: str, port: int, socket_mode: bool = False) -> None:
    """Serve until interrupted; with socket_mode Slack traffic arrives over Socket Mode instead of HTTP."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    web_app = build_web_app(app)
    _warm(app)
    if socket_mode:
        slack_wiring.attach_socket_mode(web_app, app)
    log.info("revenant serving on http://%s:%d (database: %s%s)", host, port, app.engine.dialect.name,
             ", Slack over Socket Mode" if socket_mode else "")
    web.run_app(web_app, host=host, port=port, print=None, access_log_format=ACCESS_LOG_FORMAT)
