"""Chat side effects happen once across real processes on PostgreSQL: a worker killed with kill -9 in the middle
of opening a room, and an alert storm delivered by two `serve` processes and a `worker` at once.

The emulators run in this process; `revenant serve` and `revenant worker` run as subprocesses on one
PostgreSQL database and one data directory, as an operator runs them.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.bootstrap import App
from emulators.bot_connector import BotConnectorEmulator
from emulators.slack import SlackEmulator
from emulators.teams_activities import TeamsSender
from storage.engine import scope_to_org
from tests.bot.processes import environment, processes
from tests.conftest import fresh_postgres, make_app
from tests.helpers import World, declare
from tests.slack.conftest import SECRET, eventually

DEMO = Path(__file__).resolve().parents[2] / "bot" / "demo_data"
STORM = 30


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A database of this module's own: its processes poll every org with due messages."""
    yield from fresh_postgres("revenant_once")


@pytest.fixture
def slack() -> Iterator[SlackEmulator]:
    with SlackEmulator() as emulator:
        yield emulator


@pytest.fixture
def pg(postgres_url: str, tmp_path: Path) -> Iterator[App]:
    app = make_app(postgres_url, tmp_path)
    yield app
    app.close()


def slack_env(app: App, slack: SlackEmulator, **extra: str) -> dict[str, str]:
    return environment(app.settings.data_dir, str(app.settings.database_url), SLACK_BOT_TOKEN=slack.bot_token,
                       SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=slack.api_url, **extra)


def slack_org(app: App, slack: SlackEmulator, name: str, **settings: Any) -> str:
    org = app.directory.create_org(name)
    app.directory.bind("slack", slack.team_id, org.id, move=True)  # the emulator's team id repeats across tests
    general = slack.channel_by_name("general")
    assert general is not None
    app.directory.update_org_settings(org.id, {"slack": {"announce_channel": general.id, **settings}})
    return org.id


def undelivered(app: App, org_id: str) -> int:
    with app.engine.begin() as conn:
        scope_to_org(conn, org_id)
        return int(conn.execute(sa.text("SELECT count(*) FROM outbox WHERE org_id = :o AND delivered_at IS NULL"),
                                {"o": org_id}).scalar() or 0)


def channels_of(slack: SlackEmulator, state: Any) -> list[str]:
    prefix = f"inc-{state.created_at:%Y%m%d}-{state.number}-"
    with slack.lock:
        return [c.id for c in slack.state.team_channels(slack.team.id) if c.name.startswith(prefix)]


def top_level_bot_posts(slack: SlackEmulator, channel: str, containing: str = "") -> list[dict[str, Any]]:
    return [m for m in slack.messages(channel) if m.get("user") == slack.bot_user_id
            and not m.get("parent_user_id") and containing in m.get("text", "")]


def pins(slack: SlackEmulator, channel: str) -> int:
    with slack.lock:
        return sum(1 for m in slack.channel(channel).messages if m.pinned_by)


def assert_one_slack_room(slack: SlackEmulator, state: Any, general: str) -> str:
    channels = channels_of(slack, state)
    assert len(channels) == 1, f"{state.human_id}: channels {channels}"
    channel = channels[0]
    assert state.rooms["slack"].room_id == channel
    assert len(top_level_bot_posts(slack, channel)) == 1, f"{state.human_id}: war-room messages"
    assert pins(slack, channel) == 1, f"{state.human_id}: pins"
    assert len(top_level_bot_posts(slack, general, f" {state.human_id} ")) == 1, f"{state.human_id}: announcements"
    return channel


def test_a_worker_killed_while_opening_a_room_is_resumed_once_by_the_next_worker(
        pg: App, slack: SlackEmulator, tmp_path: Path) -> None:
    org_id = slack_org(pg, slack, "killed-worker")
    general = slack.channel_by_name("general")
    assert general is not None
    pin = slack.inject("pins.add", delay=6)  # the worker waits in pins.add: channel and message exist by then
    state = declare(World(pg, pg.directory.require_org(org_id)), "Killed mid-delivery").state
    with processes(slack_env(pg, slack), tmp_path) as procs:
        procs.start("worker-1", "worker")
        eventually(lambda: pin.used == 1, timeout=90, what="the worker to reach pins.add")
        procs.kill("worker-1")
        channel = channels_of(slack, state)[0]
        assert len(top_level_bot_posts(slack, channel)) == 1 and pins(slack, channel) == 0
        assert "slack" not in pg.queries.get(org_id, state.incident_id).rooms
        with pg.engine.begin() as conn:  # the killed worker's outbox lease lapses (2 minutes; not waited for here)
            scope_to_org(conn, org_id)
            conn.execute(sa.text("UPDATE outbox SET available_at = now() WHERE org_id = :o AND delivered_at IS NULL"),
                         {"o": org_id})
        procs.start("worker-2", "worker")
        opened = eventually(lambda: (s := pg.queries.get(org_id, state.incident_id)) and "slack" in s.rooms and s,
                            timeout=90, what="the restarted worker to record the room")
        time.sleep(7)  # the killed worker's pins.add, still in flight at the emulator, lands (as already_pinned)
        log = procs.log("worker-2")
    assert_one_slack_room(slack, opened, general.id)
    assert opened.rooms["slack"].message_id == top_level_bot_posts(slack, channel)[0]["ts"]
    assert "taking over delivery room:slack:" in log


def alert(n: int, variant: str) -> dict[str, Any]:
    """An Alertmanager notification for service svc-<n>; `variant` changes the pod, not the incident."""
    body = json.loads((DEMO / "payloads" / "alertmanager.json").read_text())
    labels = {"alertname": f"HighErrorRate{n}", "service": f"svc-{n}", "cluster": f"prod-{n}", "namespace": f"ns-{n}",
              "severity": "critical"}  # no correlation key shared with another n
    body["groupKey"] = f"storm-{n}"
    body["groupLabels"] = {"alertname": labels["alertname"], "service": labels["service"]}
    body["commonLabels"] = labels
    first = body["alerts"][0]
    first["labels"] = {**labels, "pod": f"svc-{n}-{variant}"}
    first["fingerprint"] = f"{n:08x}{variant}"
    body["alerts"] = [first]
    return body


def progress(app: App, org_id: str) -> str:
    """What a storm that did not settle left: incidents, rooms, and the outbox's last errors."""
    states = app.queries.list_incidents(org_id, limit=500)
    with app.engine.begin() as conn:
        scope_to_org(conn, org_id)
        errors = conn.execute(sa.text("SELECT topic, attempts, last_error FROM outbox WHERE org_id = :o AND "
                                      "delivered_at IS NULL LIMIT 10"), {"o": org_id}).all()
    return (f"{len(states)} incidents; slack rooms {sum('slack' in s.rooms for s in states)}, teams rooms "
            f"{sum('teams' in s.rooms for s in states)}; undelivered: {errors}")


def post(url: str, token: str, body: dict[str, Any]) -> int:
    req = urllib.request.Request(f"{url}/hooks/alertmanager", data=json.dumps(body).encode(),
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as answer:
        return int(answer.status)


def test_an_alert_storm_through_two_servers_and_a_worker_opens_each_room_once(
        pg: App, slack: SlackEmulator, tmp_path: Path) -> None:
    org_id = slack_org(pg, slack, "storm", auto_channel=True)
    general = slack.channel_by_name("general")
    assert general is not None
    pg.knowledge.ingest(DEMO, org_id)  # guidance is offered when each room opens
    with BotConnectorEmulator() as connector:
        team = connector.create_team("Incident Response", ("General", "incidents"))
        alice = connector.add_member("Alice Adams", team_id=team.id)
        pg.directory.bind("teams", connector.state.tenant_id, org_id, move=True)
        settings = pg.directory.require_org(org_id).settings
        pg.directory.update_org_settings(org_id, {**settings, "teams": {
            "incident_channel": team.channels["incidents"], "auto_channel": True}})
        token = pg.directory.issue_token(org_id)
        env = slack_env(pg, slack, REVENANT_TEAMS_ALLOW_UNAUTHENTICATED="1")
        with processes(env, tmp_path) as procs:
            servers = [procs.serve("serve-a"), procs.serve("serve-b")]
            procs.start("worker", "worker")
            installed = TeamsSender(app_url=servers[0], connector=connector, app_id="").install(alice, team.channels[
                "General"])  # the bot learns where the team's channels are
            assert installed.status in (200, 201)
            statuses: list[int] = []

            # Slack answers slowly (0.15 s a call, so opening a room takes seconds), and each alert's second
            # notification reaches the other server while the first one's room is being opened: every
            # process has work on the same incidents at the same time, as in a real storm.
            slack.inject("*", delay=0.15, times=100 * STORM)

            def fire(server: str, variant: str, lag: float) -> None:
                time.sleep(lag)
                for n in range(STORM):
                    statuses.append(post(server, token, alert(n, variant)))
                    time.sleep(0.2)

            firing = [threading.Thread(target=fire, args=(s, v, lag))
                      for s, v, lag in zip(servers, ("a", "b"), (0.0, 0.7), strict=True)]
            for thread in firing:
                thread.start()
            for thread in firing:
                thread.join(timeout=120)
            assert statuses == [202] * (2 * STORM)

            def settled() -> bool:
                states = pg.queries.list_incidents(org_id, limit=500)
                return (len(states) == STORM and all({"slack", "teams"} <= set(s.rooms) for s in states)
                        and undelivered(pg, org_id) == 0)

            try:
                eventually(settled, timeout=240, what=f"{STORM} incidents with both rooms and an empty outbox")
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n{progress(pg, org_id)}\n" + "\n".join(
                    f"--- {name}\n{procs.log(name)}" for name in ("serve-a", "serve-b", "worker"))) from None
        states = pg.queries.list_incidents(org_id, limit=500)
        threads = connector.threads(team.channels["incidents"])
        for state in states:
            channel = assert_one_slack_room(slack, state, general.id)
            roots = [t for t in threads if any(f"{state.human_id} ·" in str(a.get("text") or "")
                                               for a in connector.activities(t)[:1])]
            assert len(roots) == 1, f"{state.human_id}: Teams threads {roots}"
            offers = [e for e in pg.queries.timeline(org_id, state.incident_id) if e.type_name == "GuidanceOffered"]
            assert len(offers) == 1, f"{state.human_id}: guidance offers"
            replies = [m for m in slack.thread(channel, state.rooms["slack"].message_id)[1:]
                       if "Suggested next steps" in m.get("text", "")]
            assert len(replies) == 1, f"{state.human_id}: Slack guidance replies"
            cards = [a for a in connector.activities(roots[0])[1:] if a.get("attachments")]
            assert len(cards) == 1, f"{state.human_id}: Teams guidance cards"
