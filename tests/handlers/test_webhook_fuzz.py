"""Fuzz every webhook route: any body gives 2xx or 4xx, never a 5xx, and a 4xx writes nothing."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.server import build_web_app
from storage.engine import scope_to_org
from storage.unit_of_work import EVENTS
from tests.conftest import make_app
from tests.outbox_guard import retiring

ROUTES = ["alertmanager", "grafana", "datadog", "pagerduty", "generic"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=6),
    max_leaves=40,
)
keyed = st.fixed_dictionaries({}, optional={
    "alerts": st.lists(st.dictionaries(st.sampled_from(["labels", "annotations", "status", "startsAt",
                                                        "fingerprint", "endsAt"]), json_values), max_size=3),
    "status": json_values, "version": json_values, "event": json_values, "title": json_values,
    "severity": json_values, "resourceLogs": json_values, "signals": json_values, "body": json_values,
})


class LiveServer:
    def __init__(self, tmp: Path, url: str) -> None:
        self.url = url
        self.app = make_app(url, tmp)
        import uuid

        org = self.app.directory.create_org(f"fuzz-{uuid.uuid4().hex[:8]}")
        self.org_id, self.token = org.id, self.app.directory.issue_token(org.id)
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self.ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        runner = web.AppRunner(build_web_app(self.app))
        self.loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.runner = runner
        self.ready.set()
        self.loop.run_forever()

    def post(self, route: str, data: bytes) -> tuple[int, bytes]:
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/hooks/{route}", data=data, method="POST",
                                     headers={"Authorization": f"Bearer {self.token}",
                                              "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def events(self) -> int:
        with self.app.engine.begin() as conn:
            scope_to_org(conn, self.org_id)
            return int(conn.execute(sa.select(sa.func.count()).select_from(EVENTS)
                                    .where(EVENTS.c.org_id == self.org_id)).scalar())

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.app.close()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite:///{tmp / 'fuzz.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    server = LiveServer(tmp, url)
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _retired(live: LiveServer) -> Iterator[None]:
    """The module's server outlives each test; what a test's bodies left undelivered is retired at its end."""
    with retiring(live.url):
        yield


def check(live: LiveServer, route: str, data: bytes) -> None:
    before = live.events()
    status, body = live.post(route, data)
    assert status < 500, (status, body[:300])
    if status >= 400:
        assert "error" in json.loads(body)
        assert live.events() == before, "a rejected request wrote events"


FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                        HealthCheck.too_slow])


@FUZZ
@given(route=st.sampled_from(ROUTES), value=json_values | keyed)
def test_random_json(live: LiveServer, route: str, value: object) -> None:
    check(live, route, json.dumps(value).encode())


@FUZZ
@given(route=st.sampled_from(ROUTES), data=st.binary(max_size=300))
def test_random_bytes(live: LiveServer, route: str, data: bytes) -> None:
    check(live, route, data)


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("body", [
    b"[" * 50_000 + b"]" * 50_000,
    json.dumps({"alerts": [{"labels": {"a": "b" * 900_000}}]}).encode(),
    b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
    b'{"x": ' + b"9" * 5000 + b"}",
    b"\xff\xfe{}",
    json.dumps({"title": "nul \u0000 inside", "labels": {"k\u0000": "v\u0000"}, "raw": "\u0000"}).encode(),
    b'{"title": "lone surrogate \\ud800 here", "severity": "error", "labels": {"\\udfff": "\\ud83d"}}',
])
def test_huge_and_deep_bodies(live: LiveServer, route: str, body: bytes) -> None:
    check(live, route, body)
