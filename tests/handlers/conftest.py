"""A real `revenant` web app on a loopback port, with a controllable clock."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.bootstrap import App
from bot.server import build_web_app
from tests.conftest import make_app
from tests.outbox_guard import retiring

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "payloads"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


class FakeClock:
    def __init__(self) -> None:
        self.at = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
        self.lock = threading.Lock()

    def now(self) -> datetime:
        with self.lock:
            return self.at

    def advance(self, **kw: float) -> None:
        with self.lock:
            self.at += timedelta(**kw)


@dataclass
class Server:
    app: App
    url: str
    clock: FakeClock
    session: aiohttp.ClientSession

    def org(self, name: str | None = None) -> tuple[str, str]:
        """Create an org; returns (org_id, webhook token)."""
        import uuid

        org = self.app.directory.create_org(name or f"org-{uuid.uuid4().hex[:8]}")
        return org.id, self.app.directory.issue_token(org.id)

    async def post(self, source: str, body: Any, token: str, *, raw: bytes | None = None,
                   content_type: str = "application/json") -> tuple[int, Any]:
        data = raw if raw is not None else json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {token}", "Content-Type": content_type}
        async with self.session.post(f"{self.url}/hooks/{source}", data=data, headers=headers) as r:
            text = await r.text()
            try:
                return r.status, json.loads(text)
            except ValueError:
                return r.status, text


@pytest.fixture
def clocked_app(db_url: str, tmp_path: Path) -> Iterator[tuple[App, FakeClock]]:
    clock = FakeClock()
    with retiring(db_url):  # a web-only app: its refreshes have no deliverer once the test ends
        built = make_app(db_url, tmp_path, clock=clock)
        yield built, clock
        built.close()


@pytest.fixture
async def server(clocked_app: tuple[App, FakeClock]) -> AsyncIterator[Server]:
    app, clock = clocked_app
    runner = web.AppRunner(build_web_app(app))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    async with aiohttp.ClientSession() as session:
        yield Server(app=app, url=f"http://127.0.0.1:{port}", clock=clock, session=session)
    await runner.cleanup()
