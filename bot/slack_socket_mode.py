"""`revenant serve --socket-mode`: the same Bolt app over Slack's Socket Mode (SLACK_APP_TOKEN, xapp-…).

Envelopes are recorded before they are acknowledged, exactly like HTTP requests (the envelope id is
the replay key, so a redelivered envelope is acknowledged again and not worked twice); the lazy work
then runs from the record. Socket Mode envelopes are not signed: the app-level token that opened
the connection is what authenticates them.
"""

from __future__ import annotations

import json
import logging
import time

from aiohttp import web
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.adapter.socket_mode.async_internals import run_async_bolt_app, send_async_response
from slack_bolt.adapter.socket_mode.internals import build_headers
from slack_bolt.async_app import AsyncApp
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.bootstrap import App
from bot.slack_wiring import BOLT_KEY
from handlers.replay_batch import BatchedFirstSight
from storage.acked_work import AckedWork, Arrival

log = logging.getLogger("revenant.slack.socket")


class DurableSocketModeHandler(AsyncSocketModeHandler):
    """Bolt's aiohttp Socket Mode handler, with every envelope recorded before its acknowledgement."""

    def __init__(self, bolt: AsyncApp, app_token: str, acked: AckedWork, **kwargs: object) -> None:
        super().__init__(bolt, app_token, **kwargs)  # type: ignore[arg-type]
        self._record = BatchedFirstSight(acked.record)

    async def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        start = time.time()
        headers = {k: str(v) for k, v in (build_headers(req) or {}).items()}
        try:
            recorded = await self._record(Arrival(key=f"slack-socket:{req.envelope_id}", platform="slack",
                                                  body=json.dumps(req.payload), headers=headers,
                                                  mode="socket_mode"))
        except Exception as exc:  # noqa: BLE001 — unacknowledged: Slack redelivers the envelope
            log.warning("envelope %s not recorded, so not acknowledged: %s", req.envelope_id, exc)
            return
        if recorded is None:  # a redelivery of an envelope already recorded: acknowledge it, work it once
            await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
            return
        await send_async_response(client, req, await run_async_bolt_app(self.app, req), start)


def attach_socket_mode(web_app: web.Application, app: App, acked: AckedWork) -> None:
    """Connect the Bolt app to Slack over Socket Mode at start-up, and close the connection at shutdown."""
    token = app.settings.slack_app_token
    if token is None or not token.get_secret_value().startswith("xapp-"):
        raise ValueError("--socket-mode needs SLACK_APP_TOKEN set to an app-level token (xapp-…) with "
                         "connections:write")
    if BOLT_KEY not in web_app:
        raise ValueError("--socket-mode needs Slack configured: SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN")
    bolt = web_app[BOLT_KEY]
    handlers: list[DurableSocketModeHandler] = []

    async def connect(_web_app: web.Application) -> None:
        # Built here, not above: its aiohttp session needs the server's running event loop.
        handlers.append(DurableSocketModeHandler(bolt, token.get_secret_value(), acked))
        await handlers[0].connect_async()
        log.info("Slack Socket Mode connected")

    async def close(_web_app: web.Application) -> None:
        for handler in handlers:
            await handler.close_async()

    web_app.on_startup.append(connect)
    web_app.on_shutdown.insert(0, close)  # first: nothing else in the stop may leave its reader running
