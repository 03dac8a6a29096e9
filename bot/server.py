"""The aiohttp server: one process serves Slack, Teams, webhooks, /healthz and /metrics."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import NoReturn

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot import outbox_retention, reminders, shutdown_guard, slack_wiring, source_sync, teams_wiring
from bot.access_log import ACCESS_LOG_FORMAT, access_log_class
from bot.acked_loop import AckedLoop, acked_store
from bot.bootstrap import App
from bot.metrics import Metrics
from bot.outbox_loop import OutboxLoop
from bot.readiness import Readiness
from handlers.bulkhead import Bulkhead
from handlers.github_push import GitHubPushEndpoint
from handlers.http_edge import edge_middleware
from handlers.priority import AckPriority
from handlers.webhooks import WebhookEndpoint
from incident_core.intake import intake_signals

log = logging.getLogger("revenant.server")

APP_KEY = web.AppKey("revenant", App)
WARM_CONNECTIONS = 8
METRICS_KEY = web.AppKey("metrics", Metrics)
BULKHEAD_KEY = web.AppKey("ingest_bulkhead", Bulkhead)
ACKED_KEY = web.AppKey("acked_requests", AckedLoop)
DEFAULT_THREADS = 16
# In-flight requests get this long to finish when serve stops; an acknowledged request left unfinished
# stays recorded and another process (or the next start) works it.
SHUTDOWN_GRACE_S = 2.0
# Signal ingest: one org runs at most 8 deliveries at once and queues at most 32 more (then 429). Most of
# an org's running deliveries wait for a group commit (incident_core/group_commit.py), holding a thread but
# no connection: one transaction writes them all.
INGEST_THREADS, INGEST_PER_ORG, INGEST_QUEUE_PER_ORG = 24, 8, 32


async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process serves HTTP. It never waits on the database (that is /readyz).

    Always 200 (restarting would not help); `degraded` with reasons when deliveries are dead or the
    oldest due message waited past the threshold, or an acknowledged chat request waits too long, from the
    loops' last pictures in memory.
    """
    app = request.app[APP_KEY]
    reasons = [*app.delivery_monitor.health()[1], *app.acked_monitor.health()[1]]
    healthy = not reasons
    return web.json_response({"status": "ok"} if healthy else {"status": "degraded", "reasons": reasons})


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS_KEY].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def build_web_app(app: App, *, socket_mode: bool = False) -> web.Application:
    """Assemble every route on one aiohttp application; with socket_mode, Slack also arrives over Socket Mode."""
    web_app = web.Application(client_max_size=1024 * 1024 + 1,
                              middlewares=[edge_middleware(body_timeout=app.settings.http_read_timeout)])
    web_app[APP_KEY] = app
    web_app[METRICS_KEY] = metrics_ = Metrics.create(app.registry)
    _ = app.knowledge_health  # its metrics show from the start, at zero
    _ = app.delivery_monitor
    _ = app.acked_monitor
    readiness = Readiness(app, timeout=max(app.settings.db_timeout, 1.0) + 0.5)
    web_app.router.add_get("/healthz", healthz)
    web_app.router.add_get("/readyz", readiness.handle)
    web_app.router.add_get("/metrics", metrics)
    GitHubPushEndpoint(verify=source_sync.verifier(app), schedule=source_sync.scheduler_for_pushes(app)).register(
        web_app)  # before /hooks/{source}
    web_app[BULKHEAD_KEY] = bulkhead = Bulkhead(threads=INGEST_THREADS, per_key=INGEST_PER_ORG,
                                                queue_per_key=INGEST_QUEUE_PER_ORG)
    group = app.signal_writer
    WebhookEndpoint(
        authenticate=app.directory.authenticate_token,
        authenticate_cached=app.directory.cached_token,
        intake=lambda org_id, signals, project_id: intake_signals(
            deps=app.deps, org_id=org_id, signals=signals, token_project_id=project_id, write=group.submit),
        metrics=metrics_,
        now=app.deps.clock.now,
        bulkhead=bulkhead,
    ).register(web_app)
    web_app.on_startup.append(_bigger_default_pool)
    web_app.on_cleanup.append(readiness.close)
    web_app.on_cleanup.append(lambda _web_app: _close(bulkhead))
    priority = AckPriority()  # acknowledgements first; lazy work and outbox deliveries yield to them
    loop = OutboxLoop(app, priority=priority)
    web_app[ACKED_KEY] = acked = AckedLoop(acked_store(app), {}, priority=priority, monitor=app.acked_monitor)
    slack_wiring.mount(web_app, app, loop.nudge, priority=priority, acked=acked)
    teams_wiring.mount(web_app, app, loop.nudge, acked=acked)
    web_app.on_startup.append(loop.start)
    web_app.on_startup.append(acked.start)  # the start-up sweep: what a killed process left behind
    web_app.on_shutdown.append(lambda web_app_: _stop_background(web_app_, acked, loop))
    reminders.attach(web_app, app)
    source_sync.attach(web_app, app)
    outbox_retention.attach(web_app, app)
    if socket_mode:
        from bot.slack_socket_mode import attach_socket_mode

        attach_socket_mode(web_app, app, acked.store)
    return web_app


async def _stop_background(web_app: web.Application, acked: AckedLoop, outbox: OutboxLoop) -> None:
    """Stop the background loops together, as soon as the listening socket is closed and before in-flight
    requests are drained: acknowledged work and deliveries still running get their grace at the same
    time (at most 5 s), not one after the other behind the drain. What they leave stays leased."""
    await asyncio.gather(acked.stop(web_app), outbox.stop(web_app))


async def _bigger_default_pool(_web_app: web.Application) -> None:
    """Chat work and the outbox use the loop's default pool; its default (CPU count + 4) is too small to
    absorb a database that stalls for a moment. Signal ingest has its own bulkhead."""
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(DEFAULT_THREADS,
                                                                       thread_name_prefix="revenant-io"))


async def _close(bulkhead: Bulkhead) -> None:
    bulkhead.close()


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


def event_loop(kind: str) -> asyncio.AbstractEventLoop:
    """serve's event loop: uvloop's (its transports, timers and thread wake-ups run in C: less of the one
    interpreter's time per request), or asyncio's when asked for (REVENANT_EVENT_LOOP=asyncio) or when uvloop
    is not installed."""
    if kind == "uvloop" and importlib.util.find_spec("uvloop") is not None:
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def run_server(app: App, *, host: str, port: int, socket_mode: bool = False) -> NoReturn:
    """Serve until interrupted, then end the process; with socket_mode Slack traffic arrives over Socket Mode
    instead of HTTP."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    web_app = build_web_app(app, socket_mode=socket_mode)
    _warm(app)
    log.info("revenant serving on http://%s:%d (database: %s%s)", host, port, app.engine.dialect.name,
             ", Slack over Socket Mode" if socket_mode else "")
    shutdown_guard.attach(web_app)
    web.run_app(web_app, host=host, port=port, print=None,
                access_log_class=access_log_class(log_accepted=app.settings.access_log_accepted),
                access_log_format=ACCESS_LOG_FORMAT,
                keepalive_timeout=app.settings.http_read_timeout, shutdown_timeout=SHUTDOWN_GRACE_S,
                loop=event_loop(app.settings.event_loop))
    shutdown_guard.end_process()  # stopped: skip the interpreter's teardown (see there)
