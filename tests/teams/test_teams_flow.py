"""A whole incident from Teams, over real HTTP: activities in, the Bot Connector emulator out."""

from __future__ import annotations

from incident_core.events import ChatMessageCaptured, ReactionAdded
from tests.slack.conftest import eventually
from tests.teams.conftest import CARD, TeamsWorld


def test_declare_opens_a_thread_with_the_war_room_card(teams_world: TeamsWorld) -> None:
    w = teams_world
    thread = w.declare()
    assert thread.startswith(w.incidents + ";messageid=")
    incident = w.incident()
    assert incident.commander == w.actor(w.alice) and incident.severity.value == "SEV2"
    root = next(a for a in w.connector.activities(thread) if a["id"] == thread.split("=", 1)[1])
    assert root["attachments"][0]["contentType"] == CARD
    card = w.card(thread)
    assert card["body"][0]["text"] == "INC-1 — Checkout latency spike"
    assert "ChatRoomOpened" in w.events()
    answer = eventually(lambda: [t for t in w.bot_texts(w.general) if "Declared" in t], what="declare answer")
    assert "**INC-1**" in answer[0] and "Opening its thread" in answer[0]


def test_commands_in_the_thread_change_the_incident_and_update_the_card(teams_world: TeamsWorld) -> None:
    w = teams_world
    thread = w.declare()
    for text, mentions in (("status identified bad deploy of checkout", ()), ("sev 1", ()),
                           ("role scribe @Bob Brown", (w.bob,)), ("note rolled back to v412", ())):
        delivery, _ = w.sender.command(w.alice, thread, text, mentions=mentions)
        assert delivery.status == 201, (text, delivery.body)
    incident = w.incident()
    assert incident.status.value == "identified" and incident.severity.value == "SEV1"
    assert incident.roles["scribe"] == w.actor(w.bob)
    assert incident.notes_count == 1
    said = next(a for a in w.connector.activities(thread) if "is now the scribe of INC-1" in str(a.get("text")))
    assert said["text"] == "<at>Bob Brown</at> is now the scribe of INC-1"  # assigned: Bob is notified
    assert said["entities"] == [{"type": "mention", "text": "<at>Bob Brown</at>",
                                 "mentioned": {"id": w.bob.id, "name": "Bob Brown"}}]

    def root() -> dict[str, object]:
        return next(a for a in w.connector.activities(thread) if a["id"] == thread.split("=", 1)[1])

    # the card always lists SEV1 and "identified" among its choices: wait for the root itself to change
    eventually(lambda: "SEV1 · identified" in str(root().get("text")), what="war-room card updated in place")
    assert root().get("edited")
    w.sender.command(w.alice, thread, "timeline")
    assert any("status investigating → identified" in t for t in w.bot_texts(thread))
    w.sender.command(w.bob, thread, "catchup")
    w.sender.command(w.alice, thread, "update")
    update = w.bot_texts(thread)[-1]
    assert "**Conditions:**" in update and "**Actions:**" in update and "**Needs:**" in update


def test_bad_input_gets_usage_and_refusals_are_explained(teams_world: TeamsWorld) -> None:
    w = teams_world
    w.sender.command(w.alice, w.general, "explode now")
    assert "unknown command" in w.bot_texts(w.general)[-1] and "@Revenant help" in w.bot_texts(w.general)[-1]
    w.sender.command(w.alice, w.general, "sev 9")
    assert "usage" in w.bot_texts(w.general)[-1]
    w.sender.command(w.alice, w.general, "status resolved")
    assert "not an incident thread" in w.bot_texts(w.general)[-1]
    thread = w.declare()
    w.sender.command(w.carol, thread, "note I am only a viewer")
    assert "viewer" in w.bot_texts(thread)[-1]
    assert w.incident().notes_count == 0
    w.sender.command(w.alice, w.general, "list")
    assert "INC-1" in w.bot_texts(w.general)[-1]
    w.sender.command(w.alice, w.general, "")
    assert "@Revenant" in w.bot_texts(w.general)[-1] and "/revenant" not in w.bot_texts(w.general)[-1]
    chat = w.connector.personal_conversation(w.bob.id)
    delivery, _ = w.sender.command(w.bob, chat, "help")
    assert delivery.status == 201 and "@Revenant" in w.bot_texts(chat)[-1]
    w.app.directory.update_org_settings(w.org_id, {})
    w.sender.command(w.bob, chat, "declare Declared from a chat sev3")
    assert "revenant teams channel ORG CHANNEL_ID" in w.bot_texts(chat)[-1]


def test_declare_form_submits_through_action_execute(teams_world: TeamsWorld) -> None:
    w = teams_world
    w.sender.command(w.alice, w.general, "declare")
    form = next(a for a in reversed(w.connector.activities(w.general)) if a.get("attachments"))
    content = form["attachments"][0]["content"]
    assert [b.get("id") for b in content["body"] if b["type"].startswith("Input.")] == ["title", "severity"]
    empty, _ = w.sender.execute(w.alice, form["conversation"]["id"], form["id"], "incident.declare",
                                {"title": " ", "severity": "SEV2"})
    assert empty.status == 200 and empty.json()["statusCode"] == 400 and w.incident() is None
    ok, _ = w.sender.execute(w.alice, form["conversation"]["id"], form["id"], "incident.declare",
                             {"title": "Search is slow", "severity": "SEV2"})
    body = ok.json()
    assert ok.status == 200 and body["statusCode"] == 200 and body["type"] == CARD
    assert "INC-1" in body["value"]["body"][0]["text"]
    assert w.incident().title == "Search is slow" and w.incident().severity.value == "SEV2"
    w.thread_of()


def test_thread_replies_and_reactions_are_captured_once_under_redelivery(teams_world: TeamsWorld) -> None:
    w = teams_world
    thread = w.declare()
    before = len(w.events())
    delivery, msg = w.sender.message(w.bob, thread, "db pool at 198/200")
    assert delivery.status == 201
    assert w.sender.post(msg).status == 201  # Teams redelivers the same activity
    reaction = w.sender.reaction(w.alice, thread, msg["id"], "like")[1]
    w.sender.post(reaction)
    w.sender.reaction(w.alice, thread, msg["id"], "📌")
    w.sender.edit(w.bob, thread, msg["id"], "db pool at 199/200")
    w.sender.delete(w.bob, thread, msg["id"])
    w.sender.message(w.bob, w.general, "chatter outside any incident thread")
    events = w.events()[before:]
    assert events.count("ChatMessageCaptured") == 1 and events.count("ReactionAdded") == 2
    assert "ChatMessageEdited" in events and "ChatMessageDeleted" in events
    timeline = w.timeline()
    captured = next(e for e in timeline if isinstance(e, ChatMessageCaptured))
    assert captured.author == w.actor(w.bob) and captured.text == "db pool at 198/200"
    assert [e.emoji for e in timeline if isinstance(e, ReactionAdded)] == ["+1", "pushpin"]
    assert w.incident().key_moments == (msg["id"],)
    delivery, note = w.sender.command(w.alice, thread, "note redelivered once")
    replies = len(w.bot_texts(thread))
    assert w.sender.post(note).status == 201
    assert w.incident().notes_count == 1 and len(w.bot_texts(thread)) == replies  # not answered twice


def test_war_room_buttons_answer_with_the_refreshed_card(teams_world: TeamsWorld) -> None:
    w = teams_world
    thread = w.declare()
    card = w.card(thread)
    sets = {b["id"]: b["actions"] for b in card["body"] if b["type"] == "ActionSet"}
    mitigate = next(a for a in sets["war_room_status"] if a["data"].get("status") == "mitigated")
    root = thread.split("=", 1)[1]
    delivery, _ = w.sender.execute(w.alice, thread, root, mitigate["verb"], mitigate["data"])
    body = delivery.json()
    assert delivery.status == 200 and body["statusCode"] == 200 and body["type"] == CARD
    assert any("mitigated" in str(f) for f in body["value"]["body"][1]["facts"])
    assert w.incident().status.value == "mitigated"
    assert any("Alice Adams set INC-1 to **mitigated**" in t for t in w.bot_texts(thread))
    sev1 = next(a for a in sets["war_room_severity"] if a["data"].get("severity") == "SEV1")
    viewer, _ = w.sender.execute(w.carol, thread, root, sev1["verb"], sev1["data"])
    refused = viewer.json()
    assert viewer.status == 200 and refused["statusCode"] == 403
    assert refused["type"] == "application/vnd.microsoft.error" and "viewer" in refused["value"]["message"]
    assert w.incident().severity.value == "SEV2"
    unknown, _ = w.sender.execute(w.alice, thread, root, "explode", {})
    assert unknown.json()["statusCode"] == 400


def test_the_thread_opens_in_the_project_channel_else_where_it_was_declared(teams_world: TeamsWorld) -> None:
    w = teams_world
    w.app.directory.update_org_settings(w.org_id, {"teams": {"announce_channel": w.general}})  # no default channel
    shop = w.app.directory.create_project(w.org_id, "shop", {"teams_channel": w.incidents})
    delivery, _ = w.sender.command(w.alice, w.incidents, "declare Cart is empty after login sev3")
    assert delivery.status == 201
    assert w.incident("INC-1").project_id == shop.id  # declared in shop's incident channel
    assert w.thread_of("INC-1").startswith(w.incidents + ";messageid=")
    eventually(lambda: any("INC-1" in t and "Follow its thread" in t for t in w.bot_texts(w.general)),
               what="announcement in the announce channel")
    w.sender.command(w.bob, w.general, "declare Wiki is down sev4")
    assert w.incident("INC-2").project_id is None
    assert w.thread_of("INC-2").startswith(w.general + ";messageid=")  # where it was declared
