"""One tenant cannot starve the others: per-delivery caps, a per-org share of ingest, health off the shared
pool, slow clients cut off, unsupported encodings and token guessing refused — over real HTTP."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.bootstrap import App, bootstrap
from bot.server import BULKHEAD_KEY, build_web_app
from bot.settings import Settings
from handlers.bulkhead import Bulkhead
from handlers.webhooks import MAX_SIGNALS
from tests.handlers.test_webhooks import event_count
from tests.outbox_guard import retiring


def signals(n: int, prefix: str) -> list[dict[str, Any]]:
    return [{"title": f"{prefix} disk {i}", "severity": "warning", "service": f"{prefix}-{i % 7}",
             "fingerprint": f"{prefix}-{i}", "starts_at": "2026-01-15T09:50:00Z"} for i in range(n)]


@dataclass
class Fair:
    app: App
    url: str
    port: int
    bulkhead: Bulkhead
    session: aiohttp.ClientSession

    def org(self) -> tuple[str, str]:
        import uuid

        org = self.app.directory.create_org(f"fair-{uuid.uuid4().hex[:8]}")
        return org.id, self.app.directory.issue_token(org.id)

    async def post(self, body: Any, token: str, **headers: str) -> tuple[int, Any, dict[str, str]]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        async with self.session.post(f"{self.url}/hooks/generic", data=data, headers={
                "Authorization": f"Bearer {token}", "Content-Type": "application/json", **headers}) as r:
            text = await r.text()
            return r.status, (json.loads(text) if text.startswith("{") else text), dict(r.headers)


@pytest.fixture
def read_timeout() -> float:
    """The server's body deadline and keep-alive timeout: generous, so a loaded machine's slowness is not read as
    a slow client (the slow-client test sets its own, short one)."""
    return 30.0


@pytest.fixture
async def fair(db_url: str, tmp_path: Path, read_timeout: float) -> AsyncIterator[Fair]:
    settings = Settings(data_dir=tmp_path, database_url=db_url,  # type: ignore[call-arg]
                        http_read_timeout=read_timeout)
    with retiring(db_url):  # a web-only app: its refreshes have no deliverer once the test ends
        app = bootstrap(settings, migrate=db_url.startswith("sqlite"))
        web_app = build_web_app(app)
        runner = web.AppRunner(web_app, keepalive_timeout=app.settings.http_read_timeout)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        async with aiohttp.ClientSession() as session:
            yield Fair(app, f"http://127.0.0.1:{port}", port, web_app[BULKHEAD_KEY], session)
        await runner.cleanup()
        app.close()


async def test_a_delivery_over_the_cap_is_413_naming_the_limit_and_writes_nothing(fair: Fair) -> None:
    org_id, token = fair.org()
    status, body, _ = await fair.post(signals(MAX_SIGNALS + 1, "cap"), token)
    assert status == 413 and body["limit"] == MAX_SIGNALS and str(MAX_SIGNALS) in body["error"]
    assert event_count(fair, org_id) == 0  # type: ignore[arg-type]
    assert (await fair.post(signals(3, "cap"), token))[0] == 202


async def test_a_noisy_org_gets_its_share_and_a_quiet_org_is_admitted_at_once(
        fair: Fair, monkeypatch: pytest.MonkeyPatch) -> None:
    noisy_id, noisy = fair.org()
    quiet_id, quiet = fair.org()
    finished: list[str] = []

    async def send(name: str, body: Any, token: str) -> int:
        status = (await fair.post(body, token))[0]
        finished.append(name)
        return status

    for token in (quiet, noisy):  # both tokens are verified (and remembered) now: under load, verifying one
        assert (await fair.post(signals(1, "warm"), token))[0] == 202  # per flooding request took seconds
    fair.bulkhead.admitted.clear()
    share = fair.bulkhead.per_key
    # The noisy org's deliveries are recorded for real and then keep their slot until the gate opens, so "its
    # share running, the rest waiting" lasts as long as the test looks at it, whatever the machine's load (a
    # noisy delivery that ended early let a waiting one in before the quiet org's and failed the test at load 13).
    gate = threading.Event()
    bulkhead_run = fair.bulkhead.run

    async def held(key: str, fn: Callable[..., Any], *args: Any) -> Any:
        if key != noisy_id:
            return await bulkhead_run(key, fn, *args)

        def record_then_hold(*call: Any) -> Any:
            try:
                return fn(*call)
            finally:
                gate.wait(120)

        return await bulkhead_run(key, record_then_hold, *args)

    monkeypatch.setattr(fair.bulkhead, "run", held)
    flood = [asyncio.create_task(send(f"noisy{i}", signals(150, f"n{i}"), noisy)) for i in range(share + 6)]
    try:
        deadline = asyncio.get_running_loop().time() + 120  # a bound for a loaded machine, not a timing claim
        while fair.bulkhead.load(noisy_id) != (share, 6) and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.005)
        assert fair.bulkhead.load(noisy_id) == (share, 6)
        async with fair.session.get(f"{fair.url}/healthz") as r:
            assert r.status == 200  # liveness answers while every ingest lane of the noisy org is busy
        assert await send("quiet", signals(1, "q"), quiet) == 202  # recorded and answered meanwhile
        assert fair.bulkhead.load(noisy_id) == (share, 6)  # the noisy org held its share and its queue throughout
        # so the quiet org was admitted at once, ahead of the noisy org's waiting deliveries, and answered first
        assert list(fair.bulkhead.admitted) == [noisy_id] * share + [quiet_id]
        assert finished == ["quiet"]
    finally:
        gate.set()
    statuses = await asyncio.gather(*flood)
    assert all(status == 202 for status in statuses), statuses
    assert fair.bulkhead.admitted.count(noisy_id) == share + 6  # the waiting ones ran once slots freed
    assert len(fair.app.queries.list_incidents(noisy_id)) >= 1 and len(fair.app.queries.list_incidents(quiet_id)) >= 1


@pytest.mark.parametrize("read_timeout", [1.0])
async def test_slow_clients_are_cut_off_and_others_are_served_meanwhile(fair: Fair) -> None:
    _, token = fair.org()
    slow_heads = [socket.create_connection(("127.0.0.1", fair.port), timeout=15) for _ in range(30)]
    for sock in slow_heads:  # a request head that never ends (slowloris)
        sock.sendall(b"POST /hooks/generic HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n")
    slow_body = socket.create_connection(("127.0.0.1", fair.port), timeout=15)
    slow_body.sendall(b"POST /hooks/generic HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Authorization: Bearer " + token.encode() + b"\r\nContent-Length: 200\r\n\r\n{\"title\": ")
    async with fair.session.get(f"{fair.url}/healthz") as r:
        assert r.status == 200
    loop = asyncio.get_running_loop()
    for sock in slow_heads:
        assert await loop.run_in_executor(None, sock.recv, 1024) == b"", "a slow request head was kept open"
        sock.close()
    answer = await loop.run_in_executor(None, slow_body.recv, 4096)
    slow_body.close()
    assert answer.startswith(b"HTTP/1.1 408") and b"did not arrive in time" in answer


@pytest.mark.parametrize("encoding", ["br", "zstd", "gzip"])
async def test_compressed_bodies_are_decoded_and_corrupt_ones_are_400_in_json(fair: Fair, encoding: str) -> None:
    import gzip

    import brotli
    from backports import zstd

    org_id, token = fair.org()
    compress = {"br": brotli.compress, "zstd": zstd.compress, "gzip": gzip.compress}[encoding]
    status, body, _ = await fair.post(compress(json.dumps(signals(2, encoding)).encode()), token,
                                      **{"Content-Encoding": encoding})
    assert status == 202 and body["accepted"] == 2
    before = event_count(fair, org_id)  # type: ignore[arg-type]
    status, body, _ = await fair.post(b"\x1b\x00\x00 not compressed at all", token, **{"Content-Encoding": encoding})
    assert status == 400 and isinstance(body, dict) and body["error"], body
    assert event_count(fair, org_id) == before  # type: ignore[arg-type]


async def test_an_unknown_content_encoding_is_415_in_json(fair: Fair) -> None:
    org_id, token = fair.org()
    status, body, _ = await fair.post(b"\x1f\x9d\x90", token, **{"Content-Encoding": "compress"})
    assert status == 415 and "compress" in body["error"] and "br" in body["supported"]
    assert event_count(fair, org_id) == 0  # type: ignore[arg-type]


async def test_wrong_tokens_from_one_address_are_rate_limited(fair: Fair) -> None:
    org_id, token = fair.org()
    limit = 20
    for _ in range(limit):
        assert (await fair.post(signals(1, "g"), token[:-3] + "abc"))[0] == 401
    status, body, headers = await fair.post(signals(1, "g"), token[:-3] + "abc")
    assert status == 429 and int(headers["Retry-After"]) >= 1 and "wrong or missing token" in body["error"]
    assert (await fair.post(signals(1, "g"), ""))[0] == 429
    assert event_count(fair, org_id) == 0  # type: ignore[arg-type]
