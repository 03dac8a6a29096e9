"""Run the real aiohttp app on a loopback port in a background thread (demo, benchmarks, tests)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading

from aiohttp import web

from bot.bootstrap import App
from bot.server import build_web_app

log = logging.getLogger("revenant.server")
CLEANUP_WAIT_S = 30.0


class BackgroundServer:
    """`with BackgroundServer(app) as srv: srv.url` — the same routes `revenant serve` mounts."""

    def __init__(self, app: App, host: str = "127.0.0.1", port: int = 0, *, socket_mode: bool = False) -> None:
        self.app, self.host, self.port, self.socket_mode = app, host, port, socket_mode
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="revenant-http", daemon=True)
        self._runner: web.AppRunner | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._runner = web.AppRunner(build_web_app(self.app, socket_mode=self.socket_mode), access_log=None,
                                         keepalive_timeout=self.app.settings.http_read_timeout)
            self._loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, self.host, self.port)
            self._loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        except BaseException as exc:  # noqa: BLE001 — surfaced by start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._finish()

    def _finish(self) -> None:
        """Cancel what is still scheduled (an abandoned clean-up, a Socket Mode reader) and close the loop.

        A task left pending on a stopped loop is finalized later by the garbage collector, in whatever
        thread runs it: slack_sdk's Socket Mode reader then spins forever logging "no running event loop"
        (its `while not closed` loop catches every Exception), which froze a test run at 100 % CPU."""
        pending = [task for task in asyncio.all_tasks(self._loop) if not task.done()]
        for task in pending:
            task.cancel()
        try:
            if pending:
                gathered = asyncio.gather(*pending, return_exceptions=True)
                self._loop.run_until_complete(asyncio.wait_for(gathered, CLEANUP_WAIT_S))
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
        except Exception as exc:  # noqa: BLE001 — a task that ignores cancellation: logged, the loop closes anyway
            log.warning("tasks still pending when the server stopped: %s", exc)
        finally:
            self._loop.close()

    def start(self) -> BackgroundServer:
        self._thread.start()
        self._ready.wait(30)
        if self._error:
            raise self._error
        return self

    def stop(self) -> None:
        """Clean up (in-flight requests get SHUTDOWN_GRACE_S), then stop the loop.

        A clean-up that overruns is logged and abandoned: the loop stops anyway, and what was in flight
        stays recorded (acknowledged requests and outbox deliveries are taken over by their leases).
        """
        if self._runner is not None and not self._loop.is_closed():
            runner, self._runner = self._runner, None
            cleanup = asyncio.run_coroutine_threadsafe(runner.cleanup(), self._loop)
            try:
                cleanup.result(CLEANUP_WAIT_S)
            except concurrent.futures.TimeoutError:
                cleanup.cancel()
                log.warning("the server's clean-up did not finish within %.0f s; stopping anyway", CLEANUP_WAIT_S)
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(CLEANUP_WAIT_S)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
