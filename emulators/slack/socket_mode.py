"""Socket Mode as Slack speaks it, on loopback: `apps.connections.open` and the WebSocket behind it.

`apps.connections.open` (app-level `xapp-` token only) returns a single-use `ws://127.0.0.1:…/link/?ticket=…`
URL. On connecting, the app gets `hello`; then envelopes — `events_api`, `slash_commands`,
`interactive` — each with an `envelope_id`, `payload`, `accepts_response_payload` and, for events,
`retry_attempt`/`retry_reason`. The app acknowledges an envelope by sending `{"envelope_id", "payload"?}`.
`disconnect` (reason `refresh_requested`, `warning`, …) asks the app to reconnect; a dropped socket is
what a network failure looks like. Tests drive all of this from their own thread.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

APP_TOKEN = "xapp-1-A0REVENANT-1-emulator"


@dataclass
class SocketLink:
    """The Socket Mode side of the emulator: open connections, pending envelopes and their acks."""

    app_id: str
    app_token: str = APP_TOKEN
    tickets: set[str] = field(default_factory=set)
    connections: list[web.WebSocketResponse] = field(default_factory=list)
    opened: int = 0  # connections that got their hello
    acks: dict[str, dict[str, Any]] = field(default_factory=dict)
    sent: list[dict[str, Any]] = field(default_factory=list)
    _acked: threading.Condition = field(default_factory=threading.Condition)

    def open_url(self, base_url: str, auth_header: str) -> dict[str, Any]:
        """apps.connections.open: a fresh ws:// URL for an app-level token."""
        token = auth_header[7:].strip() if auth_header.lower().startswith("bearer ") else ""
        if not token:
            return {"ok": False, "error": "not_authed"}
        if not token.startswith("xapp-"):
            return {"ok": False, "error": "not_allowed_token_type"}
        if token != self.app_token:
            return {"ok": False, "error": "invalid_auth"}
        ticket = uuid.uuid4().hex
        self.tickets.add(ticket)
        return {"ok": True, "url": base_url.replace("http://", "ws://", 1) + f"/link/?ticket={ticket}"}

    async def serve(self, request: web.Request) -> web.StreamResponse:
        """The WebSocket: hello, then envelopes out and acks in until either side closes."""
        ticket = request.query.get("ticket", "")
        if ticket not in self.tickets:
            return web.json_response({"ok": False, "error": "invalid_ticket"}, status=401)
        self.tickets.discard(ticket)  # a URL connects once
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.connections.append(ws)
        await ws.send_json({"type": "hello", "num_connections": len(self.connections),
                            "debug_info": {"host": "applink-emulator", "approximate_connection_time": 3600},
                            "connection_info": {"app_id": self.app_id}})
        with self._acked:
            self.opened += 1
            self._acked.notify_all()
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._receive(msg.data)
                elif msg.type == WSMsgType.ERROR:
                    break
        finally:
            if ws in self.connections:
                self.connections.remove(ws)
        return ws

    def _receive(self, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            return
        if isinstance(message, dict) and message.get("envelope_id"):
            with self._acked:
                self.acks.setdefault(str(message["envelope_id"]), message)
                self._acked.notify_all()

    # --- driven by tests, from their thread ------------------------------------------------------
    def wait_connected(self, count: int = 1, timeout: float = 30.0) -> bool:
        """Wait until `count` connections in all have got their hello (and one is open)."""
        with self._acked:
            return self._acked.wait_for(lambda: self.opened >= count and bool(self.connections), timeout)

    def envelope(self, kind: str, payload: dict[str, Any], *, retry_attempt: int = 0, retry_reason: str = "",
                 accepts_response_payload: bool | None = None) -> dict[str, Any]:
        """An envelope as Slack frames it."""
        message: dict[str, Any] = {"envelope_id": str(uuid.uuid4()), "payload": payload, "type": kind,
                                   "accepts_response_payload": (kind != "events_api"
                                                                if accepts_response_payload is None
                                                                else accepts_response_payload)}
        if kind == "events_api":
            message.update(retry_attempt=retry_attempt, retry_reason=retry_reason)
        return message

    def wait_ack(self, envelope_id: str, timeout: float) -> dict[str, Any] | None:
        with self._acked:
            self._acked.wait_for(lambda: envelope_id in self.acks, timeout)
            return self.acks.get(envelope_id)


class SocketModeEmulation:
    """Mixed into SlackEmulator: the link, and the test-side calls that need its event loop."""

    socket: SocketLink
    _loop: asyncio.AbstractEventLoop | None

    @property
    def app_token(self) -> str:
        """The app-level token (`xapp-…`) for SLACK_APP_TOKEN."""
        return self.socket.app_token

    def socket_send(self, kind: str, payload: dict[str, Any], *, retry_attempt: int = 0, retry_reason: str = "",
                    timeout: float = 10.0) -> dict[str, Any]:
        """Send one envelope over the newest connection and wait for the app's ack (raises TimeoutError)."""
        if not self.socket.wait_connected(timeout=timeout):
            raise TimeoutError("no Socket Mode connection is open")
        message = self.socket.envelope(kind, payload, retry_attempt=retry_attempt, retry_reason=retry_reason)
        self.socket.sent.append(message)
        self._on_loop(self.socket.connections[-1].send_json(message))
        ack = self.socket.wait_ack(message["envelope_id"], timeout)
        if ack is None:
            raise TimeoutError(f"envelope {message['envelope_id']} ({kind}) was not acknowledged in {timeout} s")
        return ack

    def socket_disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask the app to reconnect, as Slack does before it recycles a connection."""
        for ws in list(self.socket.connections):
            self._on_loop(ws.send_json({"type": "disconnect", "reason": reason,
                                        "debug_info": {"host": "applink-emulator"}}))

    def socket_drop(self) -> None:
        """Close every connection from the server side without a word (a network failure)."""
        for ws in list(self.socket.connections):
            self._on_loop(ws.close())

    def _on_loop(self, coro: Any) -> Any:
        assert self._loop is not None, "the emulator is not started"
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)
