"""The hostile corpus through Teams, over real HTTP: @Revenant commands, captured replies, every kind of card
action (the declare form, war-room buttons, playbook actions, the postmortem form) and a hostile runbook's
guidance. Nothing the bot sends, as message text, Adaptive Card or Action.Execute answer, carries HTML or
links anywhere, or mentions anyone but the org's people the bot itself tags (a tag with its entity, never
from outside text).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from emulators.bot_connector_state import Member
from emulators.teams_markdown import activity_tokens, card_tokens, tokens
from handlers.teams.ids import Verb
from tests.security import oracle
from tests.security.corpus import ALL_TYPED, GOOD_LINK, HOSTILE, TYPED, ingest_runbook
from tests.teams.conftest import TeamsWorld, eventually

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # rendering does not depend on the store


def bot_activities(w: TeamsWorld) -> list[dict[str, Any]]:
    return [a for a in w.connector.activities() if (a.get("from") or {}).get("id", "").startswith("28:")]


def click(w: TeamsWorld, who: Member, thread: str, verb: str, data: dict[str, Any]) -> dict[str, Any]:
    delivery, _ = w.sender.execute(who, thread, thread.split("=", 1)[1] if "=" in thread else "1", verb, data)
    assert delivery.status == 200, delivery.body
    return dict(delivery.json())


def answer_tokens(answer: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Live tokens of an Action.Execute answer: the refreshed card, or the message Teams shows the clicker."""
    value = answer.get("value")
    if isinstance(value, dict) and value.get("type") == "AdaptiveCard":
        return card_tokens(value)
    if isinstance(value, dict):
        return tokens(str(value.get("message", "")))
    return tokens(str(value or ""))


def test_hostile_commands_messages_and_card_actions_mention_nobody(teams_world: TeamsWorld) -> None:
    w = teams_world
    title = HOSTILE[9][:150]  # a masked markdown link as the title
    delivery, _ = w.sender.command(w.alice, w.general, f"declare {title} <at>Bob Brown</at> sev2")
    assert delivery.status == 201
    thread = w.thread_of()
    for text in [f"note {h[:2000]}" for h in TYPED] + [f"status investigating {ALL_TYPED[:1500]}",
                                                       "bogus <at>Everyone</at>", "timeline", "catchup", "update",
                                                       "list", "help", "suggest", "sev 9"]:
        delivery, _ = w.sender.command(w.alice, thread, text)
        assert delivery.status in (200, 201), (text, delivery.body)
    for hostile in TYPED[:10]:
        w.sender.message(w.bob, thread, hostile)
    answers = [click(w, w.alice, w.general, Verb.DECLARE.value, {"title": HOSTILE[7][:150], "severity": "SEV3"})]
    iid = w.incident().incident_id
    answers.append(click(w, w.alice, thread, Verb.SET_STATUS.value, {"incident_id": iid, "status": "identified"}))
    answers.append(click(w, w.bob, thread, Verb.REQUEST_ACTION.value,
                         {"incident_id": iid, "action": "flush_cache", "params": {"host": HOSTILE[0][:60]}}))
    answers.append(click(w, w.bob, thread, Verb.REQUEST_ACTION.value,
                         {"incident_id": iid, "action": "flush_cache", "params": {"host": "redis-sessions"}}))
    answers.append(click(w, w.alice, thread, Verb.SET_STATUS.value, {"incident_id": iid, "status": "resolved"}))
    delivery, _ = w.sender.command(w.alice, thread, "postmortem")
    assert delivery.status in (200, 201)
    for verb in (Verb.POSTMORTEM_SAVE, Verb.POSTMORTEM_SUBMIT):
        answers.append(click(w, w.alice, thread, verb.value, {"incident_id": iid, "pm_summary": ALL_TYPED[:3000],
                                                              "pm_lucky": f"- {HOSTILE[13]}"}))
    eventually(lambda: len(bot_activities(w)) > 20, what="the bot's answers")
    time.sleep(0.6)
    people = {m.id for m in (w.alice, w.bob, w.carol, w.dave)}
    for activity in bot_activities(w):
        oracle.assert_teams_quiet(activity_tokens(activity), links={GOOD_LINK}, mentions=people,
                                  where=json.dumps(activity)[:200])
    for answer in answers:
        oracle.assert_teams_quiet(answer_tokens(answer), links={GOOD_LINK}, mentions=people,  # the card's people
                                  where=f"answer {json.dumps(answer)[:200]}")
    shown = json.dumps([a.get("text") for a in bot_activities(w)])
    assert "Grafana dashboard" in shown  # the title is shown, as text


def test_hostile_runbook_guidance_card_mentions_nobody(teams_world: TeamsWorld, tmp_path: Path) -> None:
    from tests.teams.test_teams_guidance import cards_in

    w = teams_world
    ingest_runbook(w.app.knowledge, w.org_id, tmp_path)
    thread = w.declare("declare checkout 5xx errors sev2")
    w.sender.command(w.alice, thread, "suggest")
    card = eventually(lambda: next(iter(cards_in(w, thread, "Suggested next steps for INC-1")), None),
                      what="the guidance card", timeout=30)
    oracle.assert_teams_quiet(card_tokens(card), links={GOOD_LINK}, where="guidance card")
    texts = [str(item.get("text", "")) for block in card["body"] for item in block.get("items", [block])]
    titles = [t for t in texts if t.startswith(("🟢", "🔵", "🟠", "🔴"))]
    assert titles and not any("SYSTEM NOTE" in t or "subteam" in t for t in titles)  # the policy's words only
    assert any("the runbook says" in t and "SYSTEM NOTE" in t and "&lt;\\!subteam^" in t for t in texts)
    for activity in bot_activities(w):  # the declarer is tagged in the thread's opening reply, nobody else
        oracle.assert_teams_quiet(activity_tokens(activity), links={GOOD_LINK}, mentions={w.alice.id},
                                  where=json.dumps(activity)[:200])


def test_an_unlinked_tenant_is_told_how_to_link_without_its_id_turning_into_markup(teams_world: TeamsWorld) -> None:
    w = teams_world
    stranger = "x` <at>Alice Adams</at> [Grafana](https://evil.example/login) **x** `y"  # a backtick ends a code span
    delivery, _ = w.sender.command(w.alice, w.general, "declare Not ours sev1", tenant_id=stranger)
    assert delivery.status == 201
    told = eventually(lambda: [a for a in bot_activities(w) if "not linked" in str(a.get("text"))], what="told")
    oracle.assert_teams_quiet(activity_tokens(told[-1]), where="unlinked tenant")
    assert "revenant org link-teams ORG" in told[-1]["text"]
    answer, _ = w.sender.execute(w.alice, w.general, "1", Verb.SET_STATUS.value,
                                 {"incident_id": "INC-1", "status": "resolved"}, tenant_id=stranger)
    assert answer.json()["statusCode"] == 403
    toast = answer.json()["value"]["message"]  # Teams shows it as plain text: entities keep tags out
    assert "revenant org link-teams ORG" in toast and "<at>" not in toast and "&lt;at&gt;Alice" in toast
