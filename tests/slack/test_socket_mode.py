"""Slack over Socket Mode, offline: the emulator's `apps.connections.open` and WebSocket, the app's
`--socket-mode` handler. The HTTP flows run unchanged over the socket (declare, commands, buttons, the
declare modal, capture, App Home, playbook runs with their confirmation and approval), then what only
a socket has: reconnects after a drop or a `disconnect`, and Slack's retried envelopes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.bootstrap import bootstrap
from bot.local_server import BackgroundServer
from bot.settings import Settings
from emulators.slack import SlackEmulator
from emulators.slack_events import SocketSender
from incident_core.model import OrgRole
from tests.slack.conftest import SECRET, SlackWorld, eventually
from tests.slack.test_slack_flow import (  # noqa: F401 — collected here again, over the socket
    declare,
    test_app_home_lists_open_incidents,
    test_bad_input_gets_usage_and_refusals_are_explained,
    test_commands_in_the_channel_change_the_incident_and_the_war_room,
    test_declare_modal_validates_inline,
    test_declare_opens_a_channel_with_war_room,
    test_timeline_capture_is_idempotent_and_ignores_the_bot,
    test_war_room_buttons_change_status,
)
from tests.slack.test_suggestions import (  # noqa: F401
    test_high_risk_needs_another_commander,
    test_run_low_risk_executes_once_and_medium_runs_after_its_dialog,
)


@pytest.fixture
def slack_overrides() -> dict[str, Any]:
    return {"executor_delay": 0}


@pytest.fixture
def slack_world(db_url: str, tmp_path: Path, slack: SlackEmulator,
                slack_overrides: dict[str, Any]) -> Iterator[SlackWorld]:
    """The same world as over HTTP, but Slack reaches the app only through its Socket Mode connection."""
    settings = Settings(data_dir=tmp_path, database_url=db_url, slack_signing_secret=SECRET,  # type: ignore[call-arg]
                        slack_bot_token=slack.bot_token, slack_api_url=slack.api_url,
                        slack_app_token=slack.app_token)
    app = bootstrap(settings, migrate=db_url.startswith("sqlite"), **slack_overrides)
    org = app.directory.create_org(f"socket-{uuid.uuid4().hex[:8]}")
    app.directory.bind("slack", slack.team_id, org.id, move=True)
    alice, bob, carol = (slack.create_user(n).id for n in ("alice", "bob", "carol"))
    app.directory.set_role(org.id, f"slack:{alice}", OrgRole.COMMANDER)
    app.directory.set_role(org.id, f"slack:{carol}", OrgRole.VIEWER)
    general = slack.channel_by_name("general")
    assert general is not None
    with BackgroundServer(app, socket_mode=True) as server:
        assert slack.socket.wait_connected(timeout=30), "the app did not open a Socket Mode connection"
        sender = SocketSender(app_url=server.url, signing_secret="", slack=slack)
        yield SlackWorld(app=app, slack=slack, sender=sender, org_id=org.id, alice=alice, bob=bob, carol=carol,
                         general=general.id)
    app.close()


def test_the_app_reconnects_after_the_socket_drops_and_after_a_disconnect(slack_world: SlackWorld) -> None:
    w = slack_world
    assert w.slack.calls("apps.connections.open") or w.slack.socket.opened == 1
    w.slack.socket_drop()  # no goodbye: what a network failure looks like
    assert w.slack.socket.wait_connected(count=2, timeout=60), "no reconnect after the socket dropped"
    channel = declare(w)
    w.slack.socket_disconnect("refresh_requested")  # Slack recycles connections now and then
    assert w.slack.socket.wait_connected(count=3, timeout=30), "no reconnect after disconnect"
    delivery, url = w.sender.command(w.alice, channel, "note still here after two reconnects")
    assert delivery.status == 200
    eventually(lambda: w.slack.responses(url), what="the note's answer")
    assert w.incident().notes_count == 1


def test_a_retried_envelope_is_acknowledged_and_captured_once(slack_world: SlackWorld) -> None:
    w = slack_world
    channel = declare(w)
    event = {"type": "message", "channel": channel, "user": w.bob, "text": "cache hit rate fell to 40%",
             "ts": "1733400000.000100"}
    assert w.sender.event(event, event_id="EvSOCKET1").status == 200
    retry = w.sender.event(event, event_id="EvSOCKET1", retry_num=1)  # same event, a new envelope
    assert retry.status == 200
    sent = w.slack.socket.sent[-1]
    assert sent["retry_attempt"] == 1 and sent["retry_reason"] == "http_timeout"
    assert sent["envelope_id"] in w.slack.socket.acks
    eventually(lambda: "ChatMessageCaptured" in w.events(), what="the message captured")
    eventually(lambda: w.app.queries.get(w.org_id, "INC-1") is not None
               and w.sender.slack.socket.acks, what="acks")
    captured = [e for e in w.app.queries.timeline(w.org_id, w.incident().incident_id)
                if getattr(e, "text", "") == "cache hit rate fell to 40%"]
    assert len(captured) == 1


def test_apps_connections_open_takes_only_an_app_level_token(slack: SlackEmulator) -> None:
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    opened = WebClient(token=slack.app_token, base_url=slack.api_url).apps_connections_open(app_token=slack.app_token)
    assert opened["url"].startswith("ws://127.0.0.1:")
    with pytest.raises(SlackApiError) as refused:
        WebClient(token=slack.bot_token, base_url=slack.api_url).apps_connections_open(app_token=slack.bot_token)
    assert refused.value.response["error"] == "not_allowed_token_type"
