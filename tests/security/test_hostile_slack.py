"""The hostile corpus through Slack, over real HTTP: every signal source, every /revenant command, the declare
modal, captured messages, a hostile runbook's guidance and a hostile model. The Slack emulator records every
broadcast, mention, channel link and link Slack would render; the incident pings nobody and links nowhere.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from emulators.slack import renders
from tests.security import oracle
from tests.security.corpus import (
    ALL_IN_ONE,
    ALL_TYPED,
    GOOD_LINK,
    HOSTILE,
    SHORT,
    SOURCES,
    TYPED,
    ingest_runbook,
)
from tests.slack.conftest import SlackWorld, eventually

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # rendering does not depend on the store


@pytest.fixture
def slack_overrides() -> dict[str, Any]:
    return {"executor_delay": 0}


def hook(w: SlackWorld, source: str, body: dict[str, Any]) -> int:
    """POST one webhook as the monitoring system would (the token binds it to the org)."""
    token = w.app.directory.issue_token(w.org_id)
    req = urllib.request.Request(f"{w.sender.app_url}/hooks/{source}", data=json.dumps(body).encode(),
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def channels(w: SlackWorld) -> set[str]:
    return {str(s.rooms["slack"].room_id) for s in w.app.queries.list_incidents(w.org_id) if "slack" in s.rooms}


def quiet(w: SlackWorld, *, users: set[str] | None = None, extra: list[tuple[str, str, str]] | None = None) -> None:
    """Nothing rendered so far pings, mentions a stranger, links a foreign channel or links off the allow-list."""
    found: list[Any] = [*w.slack.rendered(), *(extra or [])]
    oracle.assert_slack_quiet(found, users=users or set(), channels=channels(w) | {w.general},
                              links={GOOD_LINK}, where="slack")


def settle(w: SlackWorld, seconds: float = 0.6) -> None:
    """Let lazy listeners and the outbox finish (they run in the background server)."""
    time.sleep(seconds)


def test_hostile_signals_from_every_source_ping_nobody(slack_world: SlackWorld) -> None:
    w = slack_world
    w.app.directory.update_org_settings(w.org_id, {"slack": {"auto_channel": True, "announce_channel": w.general}})
    titles = [HOSTILE[-1], HOSTILE[7], HOSTILE[13], HOSTILE[0], ALL_IN_ONE]  # 40k characters: alertmanager
    for (source, build), title in zip(SOURCES.items(), titles, strict=True):
        assert hook(w, source, build(title)) == 202, source
    opened = eventually(lambda: len(channels(w)) >= len(SOURCES) and channels(w), what="an incident room per source",
                        timeout=30)
    settle(w, 1.0)
    quiet(w)
    assert not w.slack.rendered("broadcast", "usergroup", "user")
    for channel in opened:
        room = w.slack.channel(channel)
        assert "&lt;" in room.topic.value or "&lt;" in room.purpose.value or "AAAA" in room.topic.value
        war_room = [m for m in w.slack.messages(channel) if m.get("blocks")]
        assert war_room, "every war room was accepted by Slack (blocks within its limits)"
    shown = w.slack.render_channel(sorted(opened)[0])
    assert "<!channel>" not in shown.replace("&lt;", "<") or "&lt;!channel&gt;" in json.dumps(w.slack.rendered())


def test_hostile_commands_modal_and_messages_ping_nobody(slack_world: SlackWorld) -> None:
    w = slack_world
    acks: list[tuple[str, str, str]] = []

    def command(channel: str, text: str, who: str | None = None, *, wait: bool = True) -> list[dict[str, Any]]:
        delivery, url = w.sender.command(who or w.alice, channel, text)
        assert delivery.status == 200, delivery.body
        if delivery.body.startswith("{"):
            body = delivery.json()
            acks.extend(renders.call_tokens("ack", body))
            return [body]
        return eventually(lambda: w.slack.responses(url), what=text) if wait else []

    command(w.general, "declare <!channel> <https://evil.example/login|Grafana> *urgent* <@U0BOGUS1> sev2")
    channel = w.channel_of()
    for text in [f"note {h[:2000]}" for h in TYPED] + [f"status investigating {HOSTILE[7]}",
                                                       f"status identified {ALL_TYPED[:1500]}"]:
        command(channel, text)
    # Slack writes <@U…> tokens only for its members (should_escape): a typed id, or typed token text, names nobody
    assert "nobody with that id" in json.dumps(command(channel, "role scribe @U0BOGUS1"))
    assert "name the person" in json.dumps(command(channel, "role scribe &lt;@U0BOGUS1|ceo&gt;"))
    command(channel, f"role scribe <@{w.bob}|bob>")
    command(channel, "role comms @dana")  # a typed name: shown as text, never a mention
    for text in ("timeline", "catchup", "update", "list", "suggest", "<!here> <https://evil.example|help>",
                 "bogus <!channel>", "sev 9 <!here>", ""):
        command(channel, text)
    for hostile in SHORT[:12]:
        w.sender.message(w.bob, channel, hostile)
    command(w.general, "declare", wait=False)  # no title: the ack opens the form
    modal = eventually(lambda: w.slack.modal_stack(w.alice), what="declare modal")[0]
    submitted = w.sender.submit_view(w.alice, modal, {
        "declare_title": {"value": {"type": "plain_text_input", "value": HOSTILE[7][:150]}},
        "declare_severity": {"value": {"type": "static_select", "selected_option": {"value": "SEV3"}}},
        "declare_summary": {"value": {"type": "plain_text_input", "value": ALL_TYPED[:2000]}}})
    assert submitted.status == 200
    eventually(lambda: len(channels(w)) == 2, what="the modal's incident room")
    w.sender.event({"type": "app_home_opened", "user": w.bob, "channel": "D1", "tab": "home"})
    eventually(lambda: w.slack.home_view(w.bob), what="home")
    settle(w)
    incident = w.incident()
    assert incident.roles.get("scribe") == f"slack:{w.bob}" and incident.roles.get("communications") == "slack:dana"
    quiet(w, users={w.alice, w.bob}, extra=acks)
    mentioned = {r.target for r in w.slack.rendered("user")}
    assert mentioned <= {w.alice, w.bob} and "U0BOGUS1" not in mentioned


def test_hostile_runbook_guidance_pings_nobody(slack_world: SlackWorld, tmp_path: Path) -> None:
    w = slack_world
    ingest_runbook(w.app.knowledge, w.org_id, tmp_path)
    w.app.directory.update_org_settings(w.org_id, {"slack": {"auto_channel": True}})
    assert hook(w, "generic", {"title": "checkout 5xx <!channel>", "service": "checkout", "severity": "critical",
                               "status": "firing", "description": "checkout pods 5xx", "links": [GOOD_LINK]}) == 202
    channel = w.channel_of()
    root = eventually(lambda: w.incident().rooms["slack"].message_id, what="war room")
    thread = eventually(lambda: [m for m in w.slack.thread(channel, root)[1:] if "Suggested" in m.get("text", "")],
                        what="guidance in the thread", timeout=30)
    assert "kubectl -n shop" in json.dumps(thread)  # the commands are shown, verbatim, in code
    sections = [b["text"]["text"] for m in thread for b in m.get("blocks", []) if b.get("type") == "section"]
    titles = [line for text in sections for line in text.split("\n") if line.startswith(("🟢", "🔵", "🟠", "🔴"))]
    quotes = [line for text in sections for line in text.split("\n") if line.startswith("> ")]
    assert titles and not any("SYSTEM NOTE" in t or "subteam" in t for t in titles)  # the policy's words only
    assert any("the runbook says" in q and "SYSTEM NOTE" in q and "&lt;!subteam^" in q for q in quotes)
    settle(w)
    quiet(w)


MODEL_SAYS = ("<!channel> <@U0BOGUS1> <https://evil.example/login|Grafana dashboard> [Grafana](https://evil.example) "
              "**act now** <at>Alice</at> @here {code}x{code}")


def test_hostile_model_answer_pings_nobody(slack_world: SlackWorld, tmp_path: Path) -> None:
    from openai import OpenAI

    from emulators.openai_api import OpenAIEmulator
    from incident_core.guidance import GuidanceRequest
    from knowledge.guidance import RetrievalGuidance
    from knowledge.guidance_llm import SCHEMA_NAME, ModelGuidance

    w = slack_world
    ingest_runbook(w.app.knowledge, w.org_id, tmp_path)
    delivery, url = w.sender.command(w.alice, w.general, "declare checkout 5xx errors sev2")
    eventually(lambda: w.slack.responses(url), what="declared")
    channel = w.channel_of()
    base = RetrievalGuidance(w.app.knowledge)
    state = w.incident()
    det = base.guide(GuidanceRequest(org_id=w.org_id, state=state,
                                     events=w.app.queries.timeline(w.org_id, state.incident_id)))
    assert det.suggestions, "the runbook gives the model candidates to phrase"
    answer = {"steps": [{"candidate": i, "source": s.source, "title": MODEL_SAYS, "why": MODEL_SAYS,
                         "command": s.command, "risk": s.risk} for i, s in enumerate(det.suggestions)],
              "questions": [{"text": MODEL_SAYS, "source": det.suggestions[0].source}]}
    with OpenAIEmulator() as emu:
        emu.script_chat([answer, answer], when=SCHEMA_NAME)
        w.app.__dict__.pop("guidance", None)  # App.guidance is cached: the override applies from the next use
        w.app.overrides["guidance"] = ModelGuidance(
            base, OpenAI(base_url=emu.api_base, api_key="sk-test", max_retries=0, timeout=10), "gpt-4o-mini")
        _, url = w.sender.command(w.alice, channel, "suggest")
        eventually(lambda: w.slack.responses(url), what="suggest answer", timeout=30)
        root = w.incident().rooms["slack"].message_id
        posts = eventually(lambda: [m for m in w.slack.thread(channel, root)[1:] if "llm:" in json.dumps(m)],
                           what="the model's guidance in the thread", timeout=30)
    assert "&lt;!channel&gt;" in json.dumps(posts)  # the model's words are shown, as text
    assert "the model says" in json.dumps(posts)  # quoted under the policy's title, never as it
    settle(w)
    quiet(w, users={w.alice})
