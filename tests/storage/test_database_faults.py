"""A database that freezes or stops: every request path answers 503 with Retry-After instead of hanging or
failing with a 500, /healthz keeps answering, the CLI says what is wrong, and everything recovers by itself.

The test runs a PostgreSQL cluster of its own on another port (tests/pg_cluster.py) and freezes it with
SIGSTOP or stops it; the shared server on 5432 is never touched. Every request carries a client timeout
of a few times the configured 2 s: a request that hangs fails the test (latencies are in bench/db_faults.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.bootstrap import App, bootstrap
from bot.local_server import BackgroundServer
from bot.settings import Settings
from emulators.bot_connector import BotConnectorEmulator
from emulators.slack import SlackEmulator
from emulators.slack_events import SlackSender
from emulators.teams_activities import TeamsSender
from tests.conftest import REQUIRE_PG
from tests.pg_cluster import PrivateCluster
from tests.slack.conftest import SECRET, eventually

HANG = 8.0  # seconds after which a request counts as hanging (the configured bound is 2 s)
SIGNAL = {"title": "checkout 5xx above 5%", "severity": "critical", "service": "checkout", "status": "firing",
          "fingerprint": "checkout-5xx", "starts_at": "2026-01-15T09:50:00Z"}


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivateCluster]:
    try:
        pg = PrivateCluster()
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        if REQUIRE_PG:
            pytest.fail(f"cannot create a private PostgreSQL cluster: {exc}")
        pytest.skip(f"cannot create a private PostgreSQL cluster: {exc}")
    with pg:
        yield pg


class World:
    """The app served against the private cluster, with Slack, Teams and a webhook token."""

    def __init__(self, app: App, url: str, slack: SlackEmulator, connector: BotConnectorEmulator) -> None:
        self.app, self.url = app, url
        org = app.directory.create_org(f"faults-{uuid.uuid4().hex[:8]}")
        self.org_id, self.org_name = org.id, org.name
        self.token = app.directory.issue_token(org.id)
        app.directory.bind("slack", slack.team_id, org.id, move=True)  # emulator ids repeat across tests
        app.directory.bind("teams", connector.state.tenant_id, org.id, move=True)
        self.slack = SlackSender(app_url=url, signing_secret=SECRET, slack=slack, timeout=HANG)
        self.user = slack.create_user("alice").id
        self.channel = slack.channel_by_name("general").id  # type: ignore[union-attr]
        self.teams = TeamsSender(app_url=url, connector=connector, timeout=HANG)
        team = connector.create_team("Ops", ("General",))
        self.member, self.conversation = connector.add_member("Alice", team_id=team.id), team.channels["General"]

    def http(self, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, dict, Any]:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=HANG) as r:
                return r.status, dict(r.headers), json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), json.loads(e.read() or b"null")

    def every_path(self, fresh: str | None = None, only: str | None = None) -> dict[str, tuple[int, dict]]:
        """One request down every path that needs the database, plus the two health routes (`fresh`: a
        token this process has not verified yet, so its lookup reaches the database; `only`: one path)."""
        answers: dict[str, tuple[int, dict]] = {}
        for name, (method, path, body, token) in {
            "webhook": ("POST", "/hooks/generic", {**SIGNAL, "title": f"t{uuid.uuid4().hex[:6]}"}, self.token),
            "webhook token lookup": ("POST", "/hooks/generic", SIGNAL, fresh or self.token),
            "healthz": ("GET", "/healthz", None, None),
            "readyz": ("GET", "/readyz", None, None),
        }.items():
            if only in (None, name):
                status, headers, _ = self.http(method, path, body, token)
                answers[name] = (status, headers)
        if only in (None, "slack"):
            command, _ = self.slack.command(self.user, self.channel, "list")
            answers["slack"] = (command.status, command.headers)
        if only in (None, "teams"):
            delivery, _ = self.teams.command(self.member, self.conversation, "list")
            answers["teams"] = (delivery.status, delivery.headers)
        return answers

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "REVENANT_DATABASE_URL": self.app.settings.effective_database_url,
               "REVENANT_DATA_DIR": str(self.app.settings.data_dir)}
        return subprocess.run([sys.executable, "-c", "from bot.cli import main; main()", *args], capture_output=True,
                              text=True, env=env, timeout=60, cwd=Path(__file__).resolve().parents[2])


@pytest.fixture
def world(cluster: PrivateCluster, tmp_path: Path) -> Iterator[World]:
    with SlackEmulator() as slack, BotConnectorEmulator() as connector:
        settings = Settings(data_dir=tmp_path, database_url=cluster.url,  # type: ignore[call-arg]
                            slack_signing_secret=SECRET, slack_bot_token=slack.bot_token,
                            slack_api_url=slack.api_url, teams_allow_unauthenticated=True)
        app = bootstrap(settings, migrate=True)
        try:
            with BackgroundServer(app) as server:
                yield World(app, server.url, slack, connector)
        finally:
            cluster.thaw()
            app.close()


def assert_unavailable(answers: dict[str, tuple[int, dict]]) -> None:
    for name in ("webhook", "webhook token lookup", "slack", "teams", "readyz"):
        status, headers = answers[name]
        assert status == 503, (name, status)
        assert int(headers["Retry-After"]) >= 1, name
    assert answers["healthz"][0] == 200


def assert_recovered(world: World) -> None:
    def served() -> bool:
        answers = world.every_path()
        return all(status < 300 for status, _ in answers.values())

    eventually(served, timeout=30, what="every path served again")


def test_a_frozen_database_answers_503_on_every_path_and_recovers_by_itself(world: World,
                                                                           cluster: PrivateCluster) -> None:
    assert world.http("POST", "/hooks/generic", SIGNAL, world.token)[0] == 202
    assert_recovered(world)  # every path works, and the pool holds connections that are about to freeze
    fresh = world.app.directory.issue_token(world.org_id)
    cluster.freeze()
    try:
        assert_unavailable(world.every_path(fresh))
        listed = world.cli("incidents", "list", "--org", world.org_id)
        assert listed.returncode == 1 and "database is not answering" in listed.stderr, listed.stderr
        assert "check REVENANT_DATABASE_URL" in listed.stderr and len(listed.stderr.splitlines()) == 1
        assert "Traceback" not in listed.stderr
    finally:
        cluster.thaw()
    assert_recovered(world)
    status, _, body = world.http("POST", "/hooks/generic", SIGNAL, world.token)  # the first delivery again
    assert status == 202 and body["signals"][0]["duplicate"] is True  # recorded once, never half
    assert [s.title for s in world.app.queries.list_incidents(world.org_id)] == ["checkout 5xx above 5%"]


def test_a_stopped_database_answers_503_on_every_path_and_recovers_after_a_restart(world: World,
                                                                                 cluster: PrivateCluster) -> None:
    assert_recovered(world)
    fresh = world.app.directory.issue_token(world.org_id)
    cluster.stop("fast")
    try:
        assert_unavailable(world.every_path(fresh))
        upgraded = world.cli("db", "upgrade")
        assert upgraded.returncode == 1 and "database is not answering" in upgraded.stderr, upgraded.stderr
    finally:
        cluster.start()
    assert_recovered(world)
    assert world.http("POST", "/hooks/generic", SIGNAL, world.token)[0] == 202
