"""Forged, stale, replayed, unknown-workspace and cross-workspace Slack requests: rejected or ignored, nothing written."""

from __future__ import annotations

import json
import time
import urllib.parse

import sqlalchemy as sa

from storage.engine import scope_to_org
from storage.unit_of_work import EVENTS
from tests.slack.conftest import SlackWorld, eventually
from tests.slack.test_slack_flow import declare


def event_rows(w: SlackWorld) -> int:
    with w.app.engine.begin() as conn:
        scope_to_org(conn, w.org_id)
        return int(conn.execute(sa.select(sa.func.count()).select_from(EVENTS).where(EVENTS.c.org_id == w.org_id)).scalar())


def command_body(w: SlackWorld, text: str) -> bytes:
    return urllib.parse.urlencode({"team_id": w.slack.team_id, "channel_id": w.general, "user_id": w.alice,
                                   "command": "/revenant", "text": text, "trigger_id": "1.2.3",
                                   "response_url": w.slack.response_url(w.general, w.alice)}).encode()


def test_forged_signature_is_401_and_writes_nothing(slack_world: SlackWorld) -> None:
    w = slack_world
    got = w.sender.post(command_body(w, "declare Forged sev1"), "application/x-www-form-urlencoded",
                        secret="not-the-signing-secret")
    assert got.status == 401
    time.sleep(0.3)
    assert event_rows(w) == 0 and w.incident() is None


def test_stale_timestamp_is_401(slack_world: SlackWorld) -> None:
    w = slack_world
    got = w.sender.post(command_body(w, "declare Stale sev1"), "application/x-www-form-urlencoded",
                        timestamp=int(time.time()) - 6 * 60)
    assert got.status == 401
    assert event_rows(w) == 0


def test_replayed_request_is_401(slack_world: SlackWorld) -> None:
    w = slack_world
    first, url = w.sender.command(w.alice, w.general, "declare Replay me sev3")
    assert first.status == 200
    eventually(lambda: w.slack.responses(url))
    headers, body = w.sender.sent[-1]
    again = w.sender.replay(headers, body)
    assert again.status == 401 and "replayed" in again.body
    time.sleep(0.3)
    assert len(w.app.queries.list_incidents(w.org_id)) == 1


def test_tampered_body_with_valid_old_signature_is_401(slack_world: SlackWorld) -> None:
    w = slack_world
    w.sender.command(w.alice, w.general, "list")
    headers, body = w.sender.sent[-1]
    tampered = body.replace(b"list", b"declare+Tampered")
    assert w.sender.replay(headers, tampered).status == 401


def test_unknown_workspace_is_told_how_to_link_and_nothing_is_written(slack_world: SlackWorld) -> None:
    w = slack_world
    own_org = w.app.directory.bound_org("slack", w.slack.team_id)
    w.app.directory.unbind("slack", w.slack.team_id)  # the token's own workspace, not linked (yet)
    delivery, _ = w.sender.command(w.alice, w.general, "declare Intruder sev1")
    assert delivery.status == 200
    assert "not linked" in delivery.json()["text"] and "revenant org link-slack" in delivery.json()["text"]
    w.app.directory.bind("slack", w.slack.team_id, own_org)
    other = w.slack.create_team("Other Co", "otherco")  # a workspace the bot token does not belong to
    stranger = w.slack.create_user("mallory", team_id=other.id).id
    room = w.slack.create_channel("random", team_id=other.id, members=[stranger])
    delivery, url = w.sender.command(stranger, room.id, "declare Intruder sev1", team_id=other.id)
    assert delivery.status == 200
    told = eventually(lambda: w.slack.responses(url), what="the stranger told why")
    assert "belongs to another Slack workspace" in json.dumps(told) and "OAuth" in json.dumps(told)
    event = w.sender.event({"type": "message", "channel": w.general, "user": stranger, "text": "hi",
                            "ts": "123.456"}, team_id=other.id)
    assert event.status == 200
    assert event_rows(w) == 0


def test_channel_id_from_another_workspace_is_ignored(slack_world: SlackWorld) -> None:
    w = slack_world
    channel_id = declare(w)
    other = w.app.directory.create_org("other-org")
    w.app.directory.bind("slack", "T0OTHER", other.id)
    before = event_rows(w)
    w.sender.event({"type": "message", "channel": channel_id, "user": "U0MALLORY", "text": "sneaky",
                    "ts": "999.1"}, team_id="T0OTHER")
    w.sender.event({"type": "reaction_added", "user": "U0MALLORY", "reaction": "pushpin",
                    "item": {"type": "message", "channel": channel_id, "ts": "999.1"}}, team_id="T0OTHER")
    time.sleep(0.5)
    assert event_rows(w) == before
    assert w.app.queries.list_incidents(other.id) == []


def test_a_429_storm_loses_nothing(slack_world: SlackWorld) -> None:
    w = slack_world
    for method in ("conversations.create", "chat.postMessage", "pins.add", "chat.update"):
        w.slack.inject(method, status=429, retry_after=1, times=2)
    delivery, url = w.sender.command(w.alice, w.general, "declare Checkout latency spike sev2")
    assert delivery.status == 200
    channel_id = w.channel_of(timeout=60)  # eight 429s, each waited out for its Retry-After
    war_room = eventually(lambda: [m for m in w.slack.messages(channel_id) if m.get("blocks")], timeout=30)
    assert len(war_room) == 1
    assert len([c for c in w.slack.calls("pins.add") if c.get("channel") == channel_id]) >= 1
    _, url = w.sender.command(w.alice, channel_id, "sev 1")
    eventually(lambda: w.slack.responses(url))
    eventually(lambda: any("SEV1" in json.dumps(c.get("blocks", "")) for c in w.slack.calls("chat.update")),
               timeout=30, what="war room updated after 429s")
    assert len(w.app.queries.list_incidents(w.org_id)) == 1


def test_malformed_button_values_get_a_clear_answer_never_a_crash(slack_world: SlackWorld) -> None:
    w = slack_world
    channel_id = declare(w)
    values = ("not json", "[1, 2]", '{"i": "INC-1", "s": "exploded"}', '{"i": {"nested": true}}', '{"s": "resolved"}',
              '{"i": "INC-1", "m": "forever", "k": "status_update"}')
    for n, value in enumerate(values):
        for action_id in ("revenant_set_status_resolved", "revenant_set_severity_SEV1", "revenant_reminder_snooze"):
            delivery = w.sender.click(w.alice, channel_id, f"{n}.0", {"action_id": action_id, "value": value})
            assert delivery.status == 200
    answers = eventually(lambda: len(w.slack.responses()) >= 1 and w.slack.responses(), what="answers")
    time.sleep(0.5)
    texts = [json.dumps(a) for a in w.slack.responses()]
    assert texts and not any("Something went wrong" in t for t in texts), texts
    assert any("not one of ours" in t for t in texts) and answers
    assert not {"StatusChanged", "SeverityChanged"} & set(w.events())


def test_a_taken_channel_name_gets_the_documented_dash_two(slack_world: SlackWorld) -> None:
    from datetime import UTC, datetime

    w = slack_world
    w.slack.create_channel(f"inc-{datetime.now(UTC):%Y%m%d}-1-name-clash")  # someone else's channel
    delivery, _ = w.sender.command(w.alice, w.general, "declare Name clash sev3")
    assert delivery.status == 200
    assert w.slack.channel(w.channel_of()).name == f"inc-{w.incident().created_at:%Y%m%d}-1-name-clash-2"
