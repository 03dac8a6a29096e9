"""Acknowledged work survives `kill -9`: real `serve` processes, signed requests, the emulators.

A first `serve` acknowledges 60 `/revenant note` commands (Teams: 60 `@Revenant note` messages) and is
killed with SIGKILL right after; a restarted `serve` (Teams: `revenant worker`) applies every one
exactly once. Replies to the response URL (Teams: to the connector) are slowed down so the first
process is still busy with the work when it dies, some of it between applying a note and marking
its request worked.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.bootstrap import App, bootstrap
from bot.settings import Settings
from emulators.bot_connector import BotConnectorEmulator
from emulators.faults import FaultPlan
from emulators.slack import SlackEmulator
from emulators.slack_events import SlackSender
from emulators.teams_activities import TeamsSender
from incident_core.events import NoteAdded
from incident_core.model import OrgRole
from incident_core.ports import Org
from storage.acked_work import ACKED
from tests.outbox_guard import retiring
from tests.slack.conftest import SECRET, eventually

REVENANT = str(Path(sys.executable).parent / "revenant")
NOTES = 60
LEASE = "2"  # seconds: how long a killed process's claims block the takeover


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(args: list[str], env: dict[str, str], log: Path, port: int | None = None) -> subprocess.Popen[bytes]:
    """Start a `revenant` process; with a port, wait until it serves /healthz."""
    full = {k: v for k, v in os.environ.items() if not k.startswith(("REVENANT_", "SLACK_", "MICROSOFT_"))}
    full.update({"REVENANT_EMBEDDINGS": "hashing", "REVENANT_ACK_LEASE_SECONDS": LEASE, **env})
    proc = subprocess.Popen([REVENANT, *args], env=full, cwd=env["REVENANT_DATA_DIR"],
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)
    if port is not None:
        def up() -> bool:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    return r.status == 200
            except OSError:
                return False

        eventually(up, timeout=90, what="revenant serve to start")
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def kill_9(proc: subprocess.Popen[bytes]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def unworked(app: App, platform: str) -> int:
    with app.engine.begin() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(ACKED).where(
            ACKED.c.platform == platform, ACKED.c.done_at.is_(None))).scalar_one())


def notes(app: App, org_id: str, ref: str = "INC-1") -> Counter[str]:
    state = app.queries.get(org_id, ref)
    assert state is not None
    return Counter(e.text for e in app.queries.timeline(org_id, state.incident_id) if isinstance(e, NoteAdded))


@pytest.fixture(autouse=True)
def _retired(db_url: str) -> Iterator[None]:
    """The serve processes are stopped (after a kill -9) with refreshes still owed to emulators that are gone."""
    with retiring(db_url):
        yield


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        stop(proc)


@dataclass
class SlackServe:
    """A `serve` process on Slack (the emulator) whose org has INC-1 open with its channel."""

    app: App
    org: Org
    alice: str
    channel: str
    port: int
    env: dict[str, str]
    log: Path
    first: subprocess.Popen[bytes]
    sender: SlackSender


def serve_an_incident(slack: SlackEmulator, db_url: str, tmp_path: Path, processes: list[subprocess.Popen[bytes]],
                      name: str) -> SlackServe:
    """Start `serve` for a new org bound to the emulator's workspace and declare INC-1 from #general."""
    app = bootstrap(Settings(data_dir=tmp_path, database_url=db_url),  # type: ignore[call-arg]
                    migrate=db_url.startswith("sqlite"))
    org = app.directory.create_org(f"{name}-{uuid.uuid4().hex[:8]}")
    app.directory.bind("slack", slack.team_id, org.id, move=True)
    alice = slack.create_user("alice").id
    app.directory.set_role(org.id, f"slack:{alice}", OrgRole.COMMANDER)
    general = slack.channel_by_name("general")
    assert general is not None
    port = free_port()
    env = {"REVENANT_DATA_DIR": str(tmp_path), "REVENANT_DATABASE_URL": db_url, "SLACK_SIGNING_SECRET": SECRET,
           "SLACK_BOT_TOKEN": slack.bot_token, "SLACK_API_URL": slack.api_url}
    log = tmp_path / "serve.log"
    first = start(["serve", "--port", str(port)], env, log, port)
    processes.append(first)
    sender = SlackSender(app_url=f"http://127.0.0.1:{port}", signing_secret=SECRET, slack=slack)
    assert sender.command(alice, general.id, f"declare {name.title()} drill sev2")[0].status == 200
    channel = eventually(lambda: (s := app.queries.get(org.id, "INC-1")) and "slack" in s.rooms
                         and s.rooms["slack"].room_id, timeout=60, what="the incident channel")
    return SlackServe(app, org, alice, channel, port, env, log, first, sender)


def test_slack_commands_acknowledged_before_a_kill_9_are_applied_once(
        db_url: str, tmp_path: Path, processes: list[subprocess.Popen[bytes]]) -> None:
    with SlackEmulator() as slack:
        w = serve_an_incident(slack, db_url, tmp_path, processes, "kill")
        app, org, alice, channel, port, env, log, first, sender = (
            w.app, w.org, w.alice, w.channel, w.port, w.env, w.log, w.first, w.sender)

        slack.inject("/response_url/*", delay=1.0, times=10 * NOTES)  # each answer, after its note, takes 1 s
        with ThreadPoolExecutor(max_workers=20) as pool:
            acks = list(pool.map(lambda i: sender.command(alice, channel, f"note step {i}")[0].status, range(NOTES)))
        kill_9(first)
        assert acks == [200] * NOTES
        applied_before = sum(notes(app, org.id).values())
        assert applied_before < NOTES, "the first process finished everything: the kill tested nothing"

        slack.faults = FaultPlan()
        processes.append(start(["serve", "--port", str(port)], env, log, port))
        eventually(lambda: unworked(app, "slack") == 0 and sum(notes(app, org.id).values()) >= NOTES,
                   timeout=120, what="every acknowledged note applied after the restart")
        time.sleep(0.5)  # anything applied twice would show now
        applied = notes(app, org.id)
        assert applied == Counter({f"step {i}": 1 for i in range(NOTES)}), (applied_before, applied)
        assert app.queries.get(org.id, "INC-1").notes_count == NOTES
        app.close()


def test_teams_messages_recorded_before_a_kill_9_are_applied_once_by_the_worker(
        db_url: str, tmp_path: Path, processes: list[subprocess.Popen[bytes]]) -> None:
    with BotConnectorEmulator() as connector:
        app = bootstrap(Settings(data_dir=tmp_path, database_url=db_url,  # type: ignore[call-arg]
                                 teams_allow_unauthenticated=True), migrate=db_url.startswith("sqlite"))
        team = connector.create_team("Incident Response", ("General", "incidents"))
        alice = connector.add_member("Alice Adams", team_id=team.id)
        org = app.directory.create_org(f"kill-{uuid.uuid4().hex[:8]}")
        app.directory.bind("teams", connector.state.tenant_id, org.id, move=True)
        app.directory.update_org_settings(org.id, {"teams": {"incident_channel": team.channels["incidents"]}})
        app.directory.set_role(org.id, f"teams:{alice.aad_object_id}", OrgRole.COMMANDER, alice.name)
        port = free_port()
        env = {"REVENANT_DATA_DIR": str(tmp_path), "REVENANT_DATABASE_URL": db_url,
               "REVENANT_TEAMS_ALLOW_UNAUTHENTICATED": "1"}
        log = tmp_path / "serve.log"
        first = start(["serve", "--port", str(port)], env, log, port)
        processes.append(first)
        sender = TeamsSender(app_url=f"http://127.0.0.1:{port}", connector=connector, app_id="", timeout=60)
        assert sender.command(alice, team.channels["General"], "declare Kill drill sev2")[0].status == 201
        thread = eventually(lambda: (s := app.queries.get(org.id, "INC-1")) and "teams" in s.rooms
                            and s.rooms["teams"].room_id, timeout=60, what="the incident thread")

        connector.inject("*activities*", delay=1.0, times=10 * NOTES)  # each answer, after its note, takes 1 s
        answered: dict[int, int] = {}

        def note(i: int) -> None:
            try:
                answered[i] = sender.command(alice, thread, f"note step {i}")[0].status
            except OSError:
                answered[i] = 0  # the process died with the request in flight

        with ThreadPoolExecutor(max_workers=20) as pool:
            futures = [pool.submit(note, i) for i in range(NOTES)]
            eventually(lambda: sum(1 for s in answered.values() if s == 201) >= 5, timeout=60,
                       what="some answered notes")
            kill_9(first)
            for future in futures:
                future.result()
        recorded = _recorded_notes(app, thread)
        assert recorded >= {i for i, status in answered.items() if status == 201}
        assert unworked(app, "teams") > 0, "nothing was in flight at the kill: it tested nothing"

        connector.faults = FaultPlan()
        processes.append(start(["worker"], env, tmp_path / "worker.log"))
        eventually(lambda: unworked(app, "teams") == 0, timeout=120, what="the worker taking over the requests")
        time.sleep(0.5)
        applied = notes(app, org.id)
        assert applied == Counter({f"step {i}": 1 for i in recorded}), (sorted(recorded), applied)
        app.close()


def _recorded_notes(app: App, thread: str) -> set[int]:
    """The note numbers of the Teams activities in `thread` recorded (being worked, or worked) by any process."""
    with app.engine.begin() as conn:
        bodies = conn.execute(sa.select(ACKED.c.body).where(ACKED.c.platform == "teams")).scalars().all()
    found: set[int] = set()
    for body in bodies:
        activity: dict[str, Any] = json.loads(body)
        text = str(activity.get("text") or "")
        if (activity.get("conversation") or {}).get("id") == thread and "note step " in text:
            found.add(int(text.rsplit("note step ", 1)[1].split()[0]))
    return found
