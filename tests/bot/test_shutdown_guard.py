"""`revenant serve` stops on SIGTERM even when a clean-up step hangs (real processes, real signals)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

HANGING_SERVER = textwrap.dedent("""
    import asyncio, logging, sys
    from aiohttp import web
    from bot import shutdown_guard

    logging.basicConfig(level=logging.INFO)

    async def hang(_app):
        await asyncio.Event().wait()  # a clean-up step that never ends

    async def ok(_request):
        return web.Response(text="up")

    app = web.Application()
    app.router.add_get("/", ok)
    app.on_cleanup.append(hang)
    shutdown_guard.attach(app, limit=1.0)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
""")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(port: int, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the server never came up")


def test_a_hanging_clean_up_is_ended_with_every_threads_stack(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", HANGING_SERVER, str(port)], cwd=Path(__file__).parents[2],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_up(port, proc)
    os.kill(proc.pid, signal.SIGTERM)
    _out, err = proc.communicate(timeout=60)  # without the guard it would hang forever
    text = err.decode()
    assert proc.returncode == 1
    assert "SIGTERM received: stopping" in text and "shutdown still running after 1 s" in text
    assert "in hang" in text or "Current thread" in text  # the stacks, for finding the hang


def test_serve_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REVENANT_", "SLACK_", "MICROSOFT_"))}
    env.update(REVENANT_DATA_DIR=str(tmp_path), REVENANT_EMBEDDINGS="hashing")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "revenant"), "serve", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for _ in range(900):
        assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                break
        except OSError:
            time.sleep(0.1)
    os.kill(proc.pid, signal.SIGTERM)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert "SIGTERM received: stopping" in err.decode()
