"""The shared emulator base: lifecycle, request log and fault injection."""

from __future__ import annotations

import aiohttp
import pytest
import requests
from aiohttp import web

from emulators.server import EmulatorServer, body_of, json_response


class EchoEmulator(EmulatorServer):
    """Answers every request with what it received."""

    name = "echo"

    def setup_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{tail:.*}", self._echo)

    def operation_name(self, request: web.Request) -> str:
        return request.path.strip("/").replace("/", ".")

    async def _echo(self, request: web.Request) -> web.StreamResponse:
        return json_response({"path": request.path, "body": body_of(request)})


def test_threaded_lifecycle_binds_loopback_on_a_free_port() -> None:
    first, second = EchoEmulator(), EchoEmulator()
    with first, second:
        assert first.base_url.startswith("http://127.0.0.1:")
        assert first.port != second.port
        assert requests.get(first.url("/ping"), timeout=5).json() == {"path": "/ping", "body": None}
    with pytest.raises(RuntimeError):
        _ = first.base_url


async def test_start_async_serves_inside_the_running_loop() -> None:
    async with EchoEmulator() as emu, aiohttp.ClientSession() as http:
        async with http.post(emu.url("/a/b"), json={"x": 1}) as resp:
            assert await resp.json() == {"path": "/a/b", "body": {"x": 1}}
    assert not emu.started


def test_request_log_records_method_path_headers_and_parsed_bodies() -> None:
    with EchoEmulator() as emu:
        requests.post(emu.url("/form"), data={"a": "1", "b": "two"}, headers={"X-Trace": "t1"}, timeout=5)
        requests.put(emu.url("/json"), json={"k": [1, 2]}, timeout=5)
        requests.get(emu.url("/q?x=1"), timeout=5)
        form = emu.requests.last("/form")
        assert (form.method, form.body, form.headers["X-Trace"], form.status) == (
            "POST",
            {"a": "1", "b": "two"},
            "t1",
            200,
        )
        assert emu.requests.last("PUT /json").body == {"k": [1, 2]}
        assert emu.requests.last("q").query == {"x": "1"}  # by operation name
        assert emu.requests.count(method="GET") == 1
        assert emu.requests.count("/*") == 3
        assert len(emu.requests.wait_for("/form", count=1, timeout=1)) == 1
        with pytest.raises(AssertionError):
            emu.requests.wait_for("/never", timeout=0.05)


def test_faults_fire_in_injection_order_then_requests_pass_through() -> None:
    with EchoEmulator() as emu:
        emu.inject("/x", status=429, retry_after=2)
        emu.inject("POST /x", status=503, times=2)
        emu.inject("/y*", status=500)
        statuses = [requests.post(emu.url("/x"), timeout=5) for _ in range(4)]
        assert [r.status_code for r in statuses] == [429, 503, 503, 200]
        assert statuses[0].headers["Retry-After"] == "2"
        assert requests.get(emu.url("/yes"), timeout=5).status_code == 500
        assert requests.get(emu.url("/yes"), timeout=5).status_code == 200
        assert emu.faults.pending() == []
        assert [r.status for r in emu.requests.filter("/x")] == [429, 503, 503, 200]


def test_bare_inject_is_a_rate_limit_with_retry_after_one_second() -> None:
    with EchoEmulator() as emu:
        emu.inject("*")
        resp = requests.get(emu.url("/any"), timeout=5)
        assert (resp.status_code, resp.headers["Retry-After"]) == (429, "1")


def test_delay_fault_provokes_a_client_timeout() -> None:
    with EchoEmulator() as emu:
        emu.inject("/slow", delay=1.0)
        with pytest.raises(requests.exceptions.ReadTimeout):
            requests.get(emu.url("/slow"), timeout=0.2)
        assert requests.get(emu.url("/slow"), timeout=5).status_code == 200


def test_suite_starts_everything_and_exports_the_app_configuration() -> None:
    from github import Auth, Github
    from jira import JIRA
    from openai import OpenAI
    from slack_sdk import WebClient

    from emulators.suite import EmulatorSuite

    with EmulatorSuite() as suite:
        env = suite.environ()
        assert len({s.port for s in suite.servers}) == 5
        assert WebClient(token=env["SLACK_BOT_TOKEN"], base_url=env["SLACK_API_URL"]).auth_test()["ok"]
        suite.github.create_repo("acme", "pm")
        gh = Github(auth=Auth.Token(env["GITHUB_TOKEN"]), base_url=env["GITHUB_API_URL"], retry=None)
        assert gh.get_repo("acme/pm").default_branch == "main"
        jira = JIRA(server=env["JIRA_URL"], basic_auth=(env["JIRA_USER"], env["JIRA_TOKEN"]), max_retries=0)
        assert jira.myself()["name"] == env["JIRA_USER"]
        llm = OpenAI(base_url=env["OPENAI_BASE_URL"], api_key=env["OPENAI_API_KEY"])
        assert [m.id for m in llm.models.list()][0] == "gpt-4o-mini"
    assert not any(s.started for s in suite.servers)
