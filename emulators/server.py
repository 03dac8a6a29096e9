"""Shared base of the emulators: an aiohttp app on 127.0.0.1, a request log and fault injection."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from http import HTTPStatus
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl

from aiohttp import web

from emulators.faults import Fault, FaultPlan
from emulators.recording import RecordedRequest, RequestLog

Handler = Callable[[web.Request], Any]
BODY: web.RequestKey[Any] = web.RequestKey("emulator_body", object)


def body_of(request: web.Request) -> Any:
    """The request body parsed by the emulator middleware (JSON, form dict, text or None)."""
    return request.get(BODY)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response encoded the way the real services do (UTF-8, no ASCII escaping)."""
    return web.Response(
        body=json.dumps(data, ensure_ascii=False).encode("utf-8"),
        status=status,
        headers=headers,
        content_type="application/json",
        charset="utf-8",
    )


def parse_body(content_type: str, raw: bytes) -> Any:
    """Decode a request body: JSON, form fields, or text; None when empty."""
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    if content_type == "application/json" or content_type.endswith("+json"):
        try:
            return json.loads(text)
        except ValueError:
            return text
    if content_type == "application/x-www-form-urlencoded":
        return dict(parse_qsl(text, keep_blank_values=True))
    return text


class EmulatorServer(ABC):
    """An aiohttp application bound to a free port on 127.0.0.1, started in a thread or in the running loop."""

    name = "emulator"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, clock: Callable[[], float] | None = None):
        self.host = host
        self.clock: Callable[[], float] = clock or time.time
        self.requests = RequestLog()
        self.faults = FaultPlan()
        self.lock = threading.RLock()
        self._wanted_port = port
        self._port: int | None = None
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # ----- hooks for subclasses -----
    @abstractmethod
    def setup_routes(self, app: web.Application) -> None:
        """Register the emulator's routes."""

    def operation_name(self, request: web.Request) -> str:
        """A friendly name for the request (e.g. a Slack method) usable by faults and filters."""
        return ""

    def fault_body(self, status: int, request: web.Request) -> Any:
        """The JSON body of an injected error response."""
        return {"message": HTTPStatus(status).phrase}

    def fault_headers(self, fault: Fault) -> dict[str, str]:
        """Headers of an injected error response (Retry-After for rate limits)."""
        headers = dict(fault.headers)
        if fault.retry_after is not None or fault.status == 429:
            seconds = 1.0 if fault.retry_after is None else fault.retry_after
            headers.setdefault("Retry-After", str(max(0, math.ceil(seconds))))
        return headers

    def route_not_found(self, request: web.Request) -> web.StreamResponse:
        """The answer for a path the emulator does not serve."""
        return json_response({"message": "Not Found"}, status=404)

    # ----- public API -----
    @property
    def port(self) -> int:
        """The TCP port the server listens on (only while started)."""
        if self._port is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """Root URL of the emulator, without a trailing slash."""
        return f"http://{self.host}:{self.port}"

    @property
    def started(self) -> bool:
        """True while the server is listening."""
        return self._port is not None

    def url(self, path: str) -> str:
        """Absolute URL of `path` on this emulator."""
        return self.base_url + ("" if path.startswith("/") else "/") + path

    def inject(
        self,
        path_or_method: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        delay: float = 0.0,
        lag: float = 0.0,
        times: int = 1,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Fault:
        """Plan a fault for requests matching a path, operation, "METHOD path" or glob ("*" = any).

        With only `delay` the request is served normally after sleeping; with `lag` it is served at
        once and its answer held back that long (past a client's timeout: a lost response); with no
        status, delay or lag the fault is a 429. Faults fire in the order they were injected.
        """
        if status is None and delay <= 0 and lag <= 0:
            status = 429
        fault = Fault(
            match=path_or_method,
            status=status,
            retry_after=retry_after,
            delay=delay,
            lag=lag,
            times=times,
            body=body,
            headers=dict(headers or {}),
        )
        return self.faults.add(fault)

    def start(self) -> Self:
        """Start serving in a background thread with its own event loop."""
        if self._thread is not None or self._runner is not None:
            return self
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            try:
                loop.run_until_complete(self._startup())
            except BaseException as exc:  # reported to the starting thread
                errors.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self._shutdown())
                loop.close()

        self._thread = threading.Thread(target=run, name=f"{self.name}-emulator", daemon=True)
        self._thread.start()
        if not ready.wait(15):
            raise RuntimeError(f"{self.name} emulator did not start")
        if errors:
            self._thread = None
            raise errors[0]
        return self

    def stop(self) -> None:
        """Stop the background thread started by start()."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(15)
        self._thread = None
        self._loop = None

    async def start_async(self) -> Self:
        """Start serving inside the running event loop."""
        if self._runner is None:
            await self._startup()
        return self

    async def stop_async(self) -> None:
        """Stop a server started with start_async()."""
        await self._shutdown()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return await self.start_async()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop_async()

    # ----- internals -----
    def build_app(self) -> web.Application:
        """The aiohttp application with recording and fault middleware."""
        app = web.Application(middlewares=[self._middleware], client_max_size=32 * 1024 * 1024)
        self.setup_routes(app)
        return app

    async def _startup(self) -> None:
        runner = web.AppRunner(self.build_app(), handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._wanted_port)
        await site.start()
        self._runner = runner
        self._port = int(runner.addresses[0][1])

    async def _shutdown(self) -> None:
        runner, self._runner = self._runner, None
        self._port = None
        if runner is not None:
            await runner.cleanup()

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        raw = await request.read()
        body = parse_body(request.content_type, raw)
        request[BODY] = body
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers=dict(request.headers),
            body=body,
            raw=raw,
            operation=self.operation_name(request),
            at=self.clock(),
        )
        response: web.StreamResponse | None = None
        try:
            fault = self.faults.take(record)
            if fault is not None:
                if fault.delay > 0:
                    await asyncio.sleep(fault.delay)
                if fault.status is not None:
                    payload = fault.body if fault.body is not None else self.fault_body(fault.status, request)
                    response = json_response(payload, status=fault.status, headers=self.fault_headers(fault))
                    return response
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                if exc.status not in (404, 405):
                    response = exc
                    raise
                response = self.route_not_found(request)
            if fault is not None and fault.lag > 0:
                await asyncio.sleep(fault.lag)  # done already; the client may have stopped waiting
            return response
        finally:
            status = response.status if response is not None else 500
            self.requests.append(dataclasses.replace(record, status=status))
