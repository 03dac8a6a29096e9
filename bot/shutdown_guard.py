"""A bounded stop for `revenant serve`: once SIGTERM or SIGINT arrives, the process is gone within a limit.

aiohttp's clean-up (on_shutdown, closing connections, on_cleanup) normally ends in a few seconds: every
loop of ours has its own bounded stop. If some part still hangs, an orchestrator would wait out its grace
period and SIGKILL the process anyway; this guard ends it first, after logging every thread's stack so
the hang can be found. Nothing acknowledged is lost either way: leased work returns to another process.
"""

from __future__ import annotations

import asyncio
import faulthandler
import logging
import os
import signal
import sys
import threading
from typing import NoReturn

from aiohttp import web
from aiohttp.web_runner import GracefulExit

log = logging.getLogger("revenant.server")
STOP_LIMIT_S = 15.0  # well inside Kubernetes' default 30 s termination grace period


def _exit_if_still_running(limit: float) -> None:
    log.error("shutdown still running after %.0f s: every thread's stack follows, then the process exits", limit)
    faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
    sys.stderr.flush()
    os._exit(1)


def end_process(code: int = 0) -> NoReturn:
    """End `serve` (or `worker`) once its stop has finished, without the interpreter's teardown.

    By then the web server, the background loops and every request (the worker: its deliveries, schedules
    and acknowledged requests) have stopped, and what was left is leased or recorded. The teardown would free every object of the knowledge stack one by one (a final
    garbage collection, C extensions' destructors, Chroma's Rust runtime): pure CPU, which took 2-11 s of
    a 0.1 s stop at load 10-16 here (docs/architecture.md, "Stopping serve"), and which this guard cannot
    bound: its timer thread never runs again once the interpreter finalizes. The kernel frees memory,
    files and sockets; logs are flushed first.
    """
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def attach(web_app: web.Application, *, limit: float = STOP_LIMIT_S) -> None:
    """Take over SIGTERM/SIGINT from aiohttp (same graceful exit) and arm a timer that ends a stuck stop."""

    async def install(_app: web.Application) -> None:
        loop = asyncio.get_running_loop()

        def stop(signum: int) -> None:
            log.info("%s received: stopping (at most %.0f s)", signal.Signals(signum).name, limit)
            timer = threading.Timer(limit, _exit_if_still_running, args=(limit,))
            timer.daemon = True
            timer.start()
            raise GracefulExit()

        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop, signum)

    web_app.on_startup.append(install)
