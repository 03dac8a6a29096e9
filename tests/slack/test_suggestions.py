"""Suggestions and playbook buttons end to end: signed Slack requests in, the Slack emulator out, real HTTP."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from incident_core.model import OrgRole
from tests.slack.conftest import SlackWorld, eventually

DEMO = Path(__file__).resolve().parents[2] / "bot" / "demo_data"
PODS = "kubectl -n shop get pods -l app=checkout"
NOTE = ("note checkout pods exhaust the payments-db connection pool since the 09:50 deploy, postgres refuses new "
        "connections; payment provider?")


@pytest.fixture
def slack_overrides() -> dict[str, Any]:
    return {"executor_delay": 0}


def dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def hook(w: SlackWorld, token: str, body: dict[str, Any]) -> int:
    """POST an Alertmanager webhook to the app, as Alertmanager would."""
    req = urllib.request.Request(f"{w.sender.app_url}/hooks/alertmanager", data=json.dumps(body).encode(),
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as answer:
        return int(answer.status)


def thread(w: SlackWorld, channel: str) -> list[dict[str, Any]]:
    root = w.incident().rooms["slack"].message_id
    return w.slack.thread(channel, root)[1:]


def guidance_posts(w: SlackWorld, channel: str) -> list[dict[str, Any]]:
    return [m for m in thread(w, channel) if "Suggested next steps" in m.get("text", "")]


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [{**e, "block_id": b["block_id"]} for b in message.get("blocks", []) if b["type"] == "actions"
            for e in b["elements"]]


def ephemeral(w: SlackWorld, channel: str, user: str, contains: str) -> dict[str, Any]:
    return eventually(lambda: next((e for e in w.slack.ephemerals(channel, user) if contains in e["text"]), None),
                      what=f"ephemeral {contains!r}")


def replies(w: SlackWorld, channel: str, starts: str) -> list[dict[str, Any]]:
    return [m for m in thread(w, channel) if m.get("text", "").startswith(starts)]


def suggest(w: SlackWorld, channel: str, who: str | None = None) -> dict[str, Any]:
    """`/revenant suggest` in the channel; returns the new guidance thread reply."""
    before = len(guidance_posts(w, channel))
    delivery, url = w.sender.command(who or w.alice, channel, "suggest")
    assert delivery.status == 200
    assert "posted in the thread" in eventually(lambda: w.slack.responses(url), what="suggest answer")[0]["text"]
    return eventually(lambda: guidance_posts(w, channel)[before:], what="guidance in the thread")[-1]


def open_incident(w: SlackWorld) -> str:
    """An Alertmanager alert opens INC-1 and its channel (auto_channel); a note adds what responders see."""
    w.app.knowledge.ingest(DEMO, w.org_id)
    w.app.directory.update_org_settings(w.org_id, {"slack": {"auto_channel": True}})
    assert hook(w, w.app.directory.issue_token(w.org_id), alert()) == 202
    channel = w.channel_of()
    eventually(lambda: guidance_posts(w, channel), what="guidance when the room opened")
    _, url = w.sender.command(w.bob, channel, NOTE)
    eventually(lambda: w.slack.responses(url), what="note")
    return channel


def alert() -> dict[str, Any]:
    return json.loads((DEMO / "payloads" / "alertmanager.json").read_text())


def runnable(w: SlackWorld, post: dict[str, Any], risk: str) -> dict[str, Any]:
    """The Run button of the first runnable suggestion of this risk in a guidance post."""
    suggestions = w.incident().suggestions
    return next(b for b in buttons(post) if b["action_id"] == "revenant_suggestion_run"
                and suggestions[b["block_id"].removeprefix("suggestion_")].risk == risk)


def test_alert_room_gets_cited_suggestions_and_more_for_a_new_kind_of_signal(slack_world: SlackWorld) -> None:
    w = slack_world
    channel = open_incident(w)
    token, payload = w.app.directory.issue_token(w.org_id), alert()
    first = eventually(lambda: guidance_posts(w, channel), what="guidance when the room opened")[0]
    text = dump(first["blocks"])
    assert "from runbooks and past incidents" in text
    assert "Source: `runbooks/checkout-5xx.md#" in text and "🟢" in text and "🔴" in text
    assert "Run (simulated)" in text and "👍" in text and "Seen before" in text
    rollback = next(s for s in w.incident().suggestions.values() if s.action == "rollback_deployment")
    assert rollback.params["deployment"] == "checkout" and rollback.params["namespace"] == "shop"
    assert w.events().count("GuidanceOffered") == 1
    latency = {**payload, "alerts": [{**a, "labels": {**a["labels"], "alertname": "HighLatency"},
                                      "fingerprint": "99" + a["fingerprint"][2:],
                                      "annotations": {"summary": "checkout p99 latency above 2s"}}
                                     for a in payload["alerts"][:1]]}
    assert hook(w, token, latency) == 202
    second = eventually(lambda: guidance_posts(w, channel)[1:], what="guidance for the new kind", timeout=15)[0]
    assert "for the new kind of signal" in dump(second["blocks"])
    assert w.events().count("GuidanceOffered") == 2
    assert hook(w, token, latency) == 202  # the same kind again: nothing new to say
    eventually(lambda: w.app.outbox.pending(w.org_id) == 0, what="outbox delivered")
    assert len(guidance_posts(w, channel)) == 2 and w.events().count("GuidanceOffered") == 2


def test_suggest_posts_a_thread_with_badges_and_sources(slack_world: SlackWorld) -> None:
    w = slack_world
    channel = open_incident(w)
    post = suggest(w, channel)
    blocks = dump(post["blocks"])
    assert post["thread_ts"] == w.incident().rooms["slack"].message_id
    assert "as asked" in blocks and "Source: `runbooks/checkout-5xx.md#" in blocks and PODS in blocks
    for badge in ("🟢", "🟠", "🔴"):
        assert badge in blocks
    medium = runnable(w, post, "medium")
    assert medium["confirm"]["title"]["text"] == "Run a medium-risk step?"  # Slack asks before it sends the click
    assert "confirm" not in runnable(w, post, "read-only")
    assert runnable(w, post, "high")["text"]["text"] == "Run (simulated) · needs approval"
    assert w.events().count("GuidanceOffered") == 2 and "SuggestionPosted" in w.events()
    delivery, url = w.sender.command(w.carol, w.general, "suggest")
    assert "incident's channel" in eventually(lambda: w.slack.responses(url))[0]["text"]


def test_run_low_risk_executes_once_and_medium_runs_after_its_dialog(slack_world: SlackWorld) -> None:
    w = slack_world
    channel = open_incident(w)
    post = suggest(w, channel)  # after the note: the pool and the provider bring a medium-risk step
    run = runnable(w, post, "read-only")
    assert w.sender.click(w.bob, channel, post["ts"], run).status == 200
    assert w.sender.click(w.bob, channel, post["ts"], run).status == 200  # an impatient double click
    done = eventually(lambda: replies(w, channel, "✅ Simulated run of"), what="run result")
    ephemeral(w, channel, w.bob, "already requested")
    assert f"requested by <@{w.bob}>" in done[0]["text"] and "🟢 read-only" in done[0]["text"]
    assert "[simulated]" in dump(done[0]["blocks"]) and "Source: `runbooks/" in dump(done[0]["blocks"])
    assert w.events().count("ActionExecuted") == 1 and len(replies(w, channel, "✅")) == 1
    w.sender.click(w.bob, channel, post["ts"], runnable(w, post, "medium"))
    eventually(lambda: len(replies(w, channel, "✅ Simulated run of")) == 2, what="medium ran after its dialog")
    medium = next(a for a in w.incident().actions.values() if a.risk == "medium")
    assert medium.status == "executed" and medium.requested_by == f"slack:{w.bob}"
    eventually(lambda: any("done (by" in dump(c.get("blocks", "")) for c in w.slack.calls("chat.update")),
               what="war room lists the actions")
    w.sender.click(w.carol, channel, post["ts"], runnable(w, post, "read-only"))
    assert "viewer" in ephemeral(w, channel, w.carol, "viewer")["text"]
    assert w.events().count("ActionRequested") == 2


def test_high_risk_needs_another_commander(slack_world: SlackWorld) -> None:
    w = slack_world
    dave = w.slack.create_user("dave").id
    w.app.directory.set_role(w.org_id, f"slack:{dave}", OrgRole.COMMANDER)
    channel = open_incident(w)
    post = eventually(lambda: guidance_posts(w, channel), what="guidance when the room opened")[0]
    w.sender.click(w.alice, channel, post["ts"], runnable(w, post, "high"))
    card = eventually(lambda: replies(w, channel, "🔴 high"), what="approval card")[0]
    assert "roll back deployment checkout in shop" in card["text"] and "must approve" in dump(card["blocks"])
    approve = next(b for b in buttons(card) if b["action_id"] == "revenant_action_approve")
    assert {b["action_id"] for b in buttons(card)} == {"revenant_action_approve", "revenant_action_deny"}
    w.sender.click(w.alice, channel, card["ts"], approve)
    assert "second person" in ephemeral(w, channel, w.alice, "second person")["text"]
    w.sender.click(w.bob, channel, card["ts"], approve)
    ephemeral(w, channel, w.bob, "cannot approve")
    w.sender.click(w.carol, channel, card["ts"], approve)
    ephemeral(w, channel, w.carol, "viewer")
    assert "ActionExecuted" not in w.events()
    w.sender.click(dave, channel, card["ts"], approve)
    done = eventually(lambda: replies(w, channel, "✅ Simulated run of"), what="approved run")[0]
    assert f"approved by <@{dave}>" in done["text"] and f"requested by <@{w.alice}>" in done["text"]
    assert "🔴 high" in done["text"] and "kubectl rollout undo deployment/checkout -n shop" in dump(done["blocks"])
    eventually(lambda: not buttons(w.slack.thread(channel, card["ts"])[0]), what="approval card closed")
    action = next(iter(w.incident().actions.values()))
    assert action.status == "executed" and action.approver == f"slack:{dave}"
    assert action.action == "rollback_deployment"


def test_feedback_is_recorded_and_changes_the_ranking(slack_world: SlackWorld) -> None:
    w = slack_world
    dave = w.slack.create_user("dave").id
    channel = open_incident(w)
    post = eventually(lambda: guidance_posts(w, channel), what="guidance when the room opened")[0]
    first = next(b for b in buttons(post) if b["action_id"] == "revenant_suggestion_down")
    top = w.incident().suggestions[first["block_id"].removeprefix("suggestion_")]
    for user in (w.alice, w.bob, dave):
        w.sender.click(user, channel, post["ts"], first)
        ephemeral(w, channel, user, "Thanks")
    w.sender.click(w.bob, channel, post["ts"], first)
    ephemeral(w, channel, w.bob, "already marked")
    assert w.events().count("SuggestionFeedbackGiven") == 3
    again = suggest(w, channel)
    order = [w.incident().suggestions[b["block_id"].removeprefix("suggestion_")].source
             for b in buttons(again) if b["action_id"] == "revenant_suggestion_down"]
    assert order[0] != top.source


def test_a_knowledge_outage_does_not_hold_back_the_war_room(slack_world: SlackWorld,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    w = slack_world

    class Broken:
        def has_knowledge(self, org_id: str) -> bool:
            raise ConnectionError("chroma is down")

        def guide(self, request: object) -> None:
            raise ConnectionError("chroma is down")

    monkeypatch.setitem(w.app.__dict__, "guidance", Broken())
    channel = open_room_without_guidance(w)
    _, url = w.sender.command(w.alice, channel, "sev 1")
    eventually(lambda: w.slack.responses(url), what="sev answer")
    eventually(lambda: any("SEV1" in dump(c.get("blocks", "")) for c in w.slack.calls("chat.update")),
               what="war room still refreshed")
    eventually(lambda: w.app.outbox.pending(w.org_id) == 0, what="every change delivered, none left to retry")
    assert "GuidanceOffered" not in w.events()


def open_room_without_guidance(w: SlackWorld) -> str:
    w.app.knowledge.ingest(DEMO, w.org_id)
    delivery, url = w.sender.command(w.alice, w.general, "declare Checkout 5xx errors sev2")
    assert delivery.status == 200
    eventually(lambda: w.slack.responses(url), what="declared")
    return w.channel_of()
