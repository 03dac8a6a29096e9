"""A whole incident from Slack, over real HTTP: signed requests in, the Slack emulator out."""

from __future__ import annotations

import json

from tests.slack.conftest import SlackWorld, eventually


def responses(world: SlackWorld, url: str) -> list[dict]:
    return world.slack.responses(url)


def declare(world: SlackWorld, text: str = "declare Checkout latency spike sev2") -> str:
    delivery, url = world.sender.command(world.alice, world.general, text)
    assert delivery.status == 200, delivery.body
    eventually(lambda: responses(world, url), what="declare answer")
    return world.channel_of()


def test_declare_opens_a_channel_with_war_room(slack_world: SlackWorld) -> None:
    w = slack_world
    channel_id = declare(w)
    channel = w.slack.channel(channel_id)
    incident = w.incident()
    assert channel.name.startswith(f"inc-{incident.created_at:%Y%m%d}-1-checkout-latency-spike")
    assert len(channel.name) <= 80 and channel.name == channel.name.lower()
    assert "INC-1" in channel.topic.value and "SEV2" in channel.topic.value
    assert f"[revenant:{incident.incident_id}]" in channel.purpose.value
    assert w.alice in channel.members
    war_room = eventually(lambda: [m for m in w.slack.messages(channel_id) if m.get("blocks")], what="war room")
    pinned = [c for c in w.slack.calls("pins.add") if c.get("channel") == channel_id]
    assert [c.get("timestamp") for c in pinned] == [war_room[0]["ts"]]
    text = w.slack.render_channel(channel_id)
    assert "INC-1" in text and "investigating" in text
    assert "ChatRoomOpened" in w.events()
    assert incident.commander == f"slack:{w.alice}"


def test_commands_in_the_channel_change_the_incident_and_the_war_room(slack_world: SlackWorld) -> None:
    w = slack_world
    channel_id = declare(w)
    for text in ("status identified bad deploy of checkout", "sev 1", f"role scribe <@{w.bob}|bob>",
                 "note rolled back to v412"):
        delivery, url = w.sender.command(w.alice, channel_id, text)
        assert delivery.status == 200
        eventually(lambda url=url: responses(w, url), what=text)
    incident = w.incident()
    assert incident.status.value == "identified" and incident.severity.value == "SEV1"
    assert incident.roles["scribe"] == f"slack:{w.bob}"
    assert incident.notes_count == 1
    eventually(lambda: any("SEV1" in json.dumps(c.get("blocks", "")) for c in w.slack.calls("chat.update")),
               what="war room updated in place")
    _, url = w.sender.command(w.alice, channel_id, "timeline")
    answer = eventually(lambda: responses(w, url))
    assert "status investigating → identified" in answer[0]["text"]
    _, url = w.sender.command(w.bob, channel_id, "catchup")
    assert "INC-1" in eventually(lambda: responses(w, url))[0]["text"]
    _, url = w.sender.command(w.alice, channel_id, "update")
    update = eventually(lambda: responses(w, url))[0]["text"]
    assert "*Conditions:*" in update and "*Actions:*" in update and "*Needs:*" in update


def test_bad_input_gets_usage_and_refusals_are_explained(slack_world: SlackWorld) -> None:
    w = slack_world
    delivery, _ = w.sender.command(w.alice, w.general, "explode now")
    assert delivery.status == 200 and "unknown command" in delivery.json()["text"]
    delivery, _ = w.sender.command(w.alice, w.general, "sev 9")
    assert "usage" in delivery.json()["text"]
    _, url = w.sender.command(w.alice, w.general, "status resolved")
    assert "not an incident channel" in eventually(lambda: responses(w, url))[0]["text"]
    channel_id = declare(w)
    _, url = w.sender.command(w.carol, channel_id, "note I am only a viewer")
    assert "viewer" in eventually(lambda: responses(w, url))[0]["text"]
    assert w.incident().notes_count == 0
    _, url = w.sender.command(w.alice, w.general, "list")
    assert "INC-1" in eventually(lambda: responses(w, url))[0]["text"]
    _, url = w.sender.command(w.alice, w.general, "")
    assert "/revenant" in eventually(lambda: responses(w, url))[0]["text"]


def test_timeline_capture_is_idempotent_and_ignores_the_bot(slack_world: SlackWorld) -> None:
    w = slack_world
    channel_id = declare(w)
    before = len(w.events())
    delivery, msg = w.sender.message(w.bob, channel_id, "db pool at 198/200", event_id="Ev0001")
    assert delivery.status == 200
    eventually(lambda: "ChatMessageCaptured" in w.events(), what="message captured")
    retry = w.sender.event({"type": "message", "channel": channel_id, "user": w.bob, "text": "db pool at 198/200",
                            "ts": msg["ts"]}, event_id="Ev0001", retry_num=1)
    assert retry.status == 200
    w.sender.message(w.bob, channel_id, "replying in thread", thread_ts=msg["ts"])
    w.sender.event({"type": "message", "subtype": "bot_message", "channel": channel_id, "bot_id": "B1",
                    "text": "bot chatter", "ts": "1.1"})
    w.sender.event({"type": "message", "subtype": "message_changed", "channel": channel_id,
                    "message": {"user": w.bob, "text": "db pool at 199/200", "ts": msg["ts"]}})
    w.sender.reaction(w.alice, channel_id, msg["ts"], "pushpin")
    eventually(lambda: "ReactionAdded" in w.events(), what="reaction")
    eventually(lambda: "ChatMessageEdited" in w.events(), what="edit")
    w.sender.event({"type": "message", "subtype": "message_deleted", "channel": channel_id,
                    "deleted_ts": msg["ts"], "previous_message": {"user": w.bob, "ts": msg["ts"]}})
    eventually(lambda: "ChatMessageDeleted" in w.events(), what="deletion")
    events = w.events()[before:]
    assert events.count("ChatMessageCaptured") == 2  # the message and the thread reply; the retry absorbed
    assert w.incident().key_moments == (msg["ts"],)
    timeline = w.app.queries.timeline(w.org_id, w.incident().incident_id)
    assert not any(getattr(e, "text", "") == "bot chatter" for e in timeline)
    reply = [e for e in timeline if getattr(e, "thread_id", None) == msg["ts"]]
    assert len(reply) == 1


def test_war_room_buttons_change_status(slack_world: SlackWorld) -> None:
    w = slack_world
    channel_id = declare(w)
    war_room = eventually(lambda: [m for m in w.slack.messages(channel_id) if m.get("blocks")])[0]
    buttons = [e for b in war_room["blocks"] if b["type"] == "actions" for e in b["elements"]]
    mitigate = next(b for b in buttons if b["action_id"].endswith("_mitigated"))
    assert w.sender.click(w.alice, channel_id, war_room["ts"], mitigate).status == 200
    eventually(lambda: w.incident().status.value == "mitigated", what="status via button")
    viewer = w.sender.click(w.carol, channel_id, war_room["ts"], next(b for b in buttons if b["action_id"].endswith("_SEV1")))
    assert viewer.status == 200
    assert w.incident().severity.value == "SEV2"


def test_declare_modal_validates_inline(slack_world: SlackWorld) -> None:
    w = slack_world
    delivery, _ = w.sender.command(w.alice, w.general, "declare")
    assert delivery.status == 200
    modal = eventually(lambda: w.slack.modal_stack(w.alice), what="declare modal")[0]
    empty = w.sender.submit_view(w.alice, modal, {"declare_title": {"value": {"type": "plain_text_input", "value": ""}}})
    assert empty.status == 200 and empty.json()["response_action"] == "errors"
    assert w.incident() is None
    ok = w.sender.submit_view(w.alice, modal, {
        "declare_title": {"value": {"type": "plain_text_input", "value": "Search is slow"}},
        "declare_severity": {"value": {"type": "static_select", "selected_option": {"value": "SEV2"}}}})
    assert ok.status == 200
    eventually(lambda: w.incident() is not None and w.incident().title == "Search is slow", what="declared")
    w.channel_of()


def test_app_home_lists_open_incidents(slack_world: SlackWorld) -> None:
    w = slack_world
    declare(w)
    w.sender.event({"type": "app_home_opened", "user": w.bob, "channel": "D1", "tab": "home"})
    home = eventually(lambda: w.slack.home_view(w.bob), what="home published")
    assert "INC-1" in json.dumps(home)
