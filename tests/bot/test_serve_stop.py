"""`revenant serve` stops on SIGTERM while Slack requests are in flight and clients hold keep-alive
connections: the stop finishes by itself (exit 0, not the shutdown guard's exit 1), and every request it
acknowledged is applied exactly once, by the next process if the stopping one left it unfinished.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from emulators.faults import FaultPlan
from emulators.slack import SlackEmulator
from emulators.slack_events import Delivery, SlackSender
from tests.bot.test_acked_durability import notes, serve_an_incident, start, stop, unworked
from tests.slack.conftest import SECRET, eventually

NOTES = 120
CLIENTS = 8  # concurrent senders, each on a connection it keeps alive between requests
IDLE = 4  # further keep-alive connections that send one request and then sit idle through the stop


class Signing(SlackSender):
    """Signs requests exactly as SlackSender does and keeps them for an asyncio client to send."""

    def replay(self, headers: dict[str, str], body: bytes) -> Delivery:
        return Delivery(0, "", {})


async def send_all(port: int, requests: list[tuple[int, dict[str, str], bytes]], stop_after: int,
                   serve: subprocess.Popen[bytes]) -> tuple[set[int], int]:
    """Send the notes from CLIENTS keep-alive connections; SIGTERM the server once `stop_after` are
    acknowledged, and keep sending through the stop. Returns the acknowledged notes and how many of them
    were answered after the signal (requests that were in flight when it came)."""
    url = f"http://127.0.0.1:{port}/slack/events"
    acked: set[int] = set()
    after_signal = [0]
    signalled = threading.Event()
    queue = list(reversed(requests))
    idle: list[socket.socket] = []
    for _ in range(IDLE):  # keep-alive connections with nothing in flight when the stop begins
        conn = socket.create_connection(("127.0.0.1", port))
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
        assert conn.recv(1024).startswith(b"HTTP/1.1 200")
        idle.append(conn)
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CLIENTS)) as session:
            async def client() -> None:
                while queue:
                    number, headers, body = queue.pop()
                    try:
                        async with session.post(url, data=body, headers=headers) as answer:
                            await answer.read()
                            if answer.status != 200:
                                continue
                    except aiohttp.ClientError:
                        continue  # refused or cut by the stop: not acknowledged, Slack would retry
                    acked.add(number)
                    if signalled.is_set():
                        after_signal[0] += 1
                    elif len(acked) >= stop_after:
                        signalled.set()
                        serve.send_signal(signal.SIGTERM)

            await asyncio.gather(*(client() for _ in range(CLIENTS)))
    finally:
        for conn in idle:
            conn.close()
    assert signalled.is_set(), "the server was never signalled"
    return acked, after_signal[0]


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        stop(proc)


def test_sigterm_with_requests_in_flight_stops_cleanly_and_loses_nothing_acknowledged(
        db_url: str, tmp_path: Path, started: list[subprocess.Popen[bytes]]) -> None:
    with SlackEmulator() as slack:
        w = serve_an_incident(slack, db_url, tmp_path, started, "stop")
        app, port, first, log = w.app, w.port, w.first, w.log
        slack.inject("/response_url/*", delay=0.5, times=10 * NOTES)  # lazy work is busy when the stop comes
        signing = Signing(app_url=w.sender.app_url, signing_secret=SECRET, slack=slack)
        requests = []
        for i in range(NOTES):
            signing.command(w.alice, w.channel, f"note step {i}")
            requests.append((i, *signing.sent[-1]))
        acked, in_flight = asyncio.run(send_all(port, requests, NOTES // 4, first))
        first.wait(timeout=60)
        text = log.read_text(errors="replace")
        assert first.returncode == 0, text[-3000:]  # the guard ends a stuck stop with 1
        assert "SIGTERM received: stopping" in text and "shutdown still running" not in text
        assert len(acked) >= NOTES // 4
        assert unworked(app, "slack") > 0, "all work was done before the stop: it tested nothing"
        print(f"{len(acked)} acknowledged, {in_flight} of them answered after SIGTERM")

        slack.faults = FaultPlan()
        started.append(start(["serve", "--port", str(port)], w.env, log, port))
        eventually(lambda: unworked(app, "slack") == 0, timeout=120, what="the next process working the rest")
        time.sleep(0.5)  # anything applied twice would show now
        applied = notes(app, w.org.id)
        assert {f"step {i}" for i in acked} <= set(applied), sorted(acked)
        assert set(applied.values()) == {1}, Counter(applied.values())
        app.close()

