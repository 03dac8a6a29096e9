"""The access log over real HTTP: a line for every answer except accepted signal deliveries."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from bot.access_log import ACCESS_LOG_FORMAT, access_log_class
from bot.bootstrap import App
from bot.server import build_web_app
from tests.helpers import new_org

ALERT = {"version": "4", "status": "firing", "receiver": "r", "groupLabels": {}, "commonLabels": {},
         "commonAnnotations": {}, "externalURL": "http://am", "alerts": [
             {"status": "firing", "labels": {"alertname": "HighLatency", "service": "api", "severity": "critical"},
              "annotations": {"summary": "api slow"}, "startsAt": "2026-12-07T08:00:00Z",
              "endsAt": "0001-01-01T00:00:00Z", "fingerprint": "0123456789abcdef"}]}


@pytest.fixture(params=[False, True], ids=["default", "accepted-logged"])
async def served(request: pytest.FixtureRequest, sqlite_app: App) -> AsyncIterator[tuple[str, bool]]:
    """The app served as `revenant serve` serves it: its access logger (as REVENANT_ACCESS_LOG_ACCEPTED picks it)
    and format."""
    server = TestServer(build_web_app(sqlite_app), host="127.0.0.1")
    await server.start_server(access_log_class=access_log_class(log_accepted=request.param),
                              access_log_format=ACCESS_LOG_FORMAT)
    try:
        yield str(server.make_url("")).rstrip("/"), request.param
    finally:
        await server.close()


async def test_accepted_deliveries_leave_no_line_and_every_other_answer_does(
        served: tuple[str, bool], sqlite_app: App, caplog: pytest.LogCaptureFixture) -> None:
    base_url, logs_accepted = served
    token = sqlite_app.directory.issue_token(new_org(sqlite_app).org.id)
    caplog.set_level(logging.INFO, logger="aiohttp.access")
    async with aiohttp.ClientSession() as s:
        async with s.post(base_url + "/hooks/alertmanager", json=ALERT,
                          headers={"Authorization": f"Bearer {token}"}) as r:
            assert r.status == 202 and (await r.json())["incident_ids"] == ["INC-1"]
        async with s.post(base_url + "/hooks/alertmanager", json=ALERT,
                          headers={"Authorization": "Bearer wrong"}) as r:
            assert r.status == 401
        async with s.post(base_url + "/hooks/alertmanager", data=b"{", headers={
                "Authorization": f"Bearer {token}", "Content-Type": "application/json"}) as r:
            assert r.status == 400
        async with s.get(base_url + "/healthz") as r:
            assert r.status == 200
    lines = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    accepted = [("POST /hooks/alertmanager HTTP/1.1", "202")] if logs_accepted else []
    assert [(line.split('"')[1], line.split('"')[2].split()[0]) for line in lines] == [
        *accepted, ("POST /hooks/alertmanager HTTP/1.1", "401"), ("POST /hooks/alertmanager HTTP/1.1", "400"),
        ("GET /healthz HTTP/1.1", "200")]
    assert all(line.startswith("127.0.0.1 ") for line in lines), lines
