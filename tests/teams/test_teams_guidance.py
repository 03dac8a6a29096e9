"""Guidance on Teams: the suggestions card under the war room, Run through the action gates, 👍/👎."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.slack.conftest import eventually
from tests.teams.conftest import CARD, TeamsWorld

DEMO = Path(__file__).resolve().parents[2] / "bot" / "demo_data"
NOTE = "note checkout pods exhaust the payments-db connection pool since the 09:50 deploy; payment provider?"


def cards_in(w: TeamsWorld, thread: str, starts: str) -> list[dict[str, Any]]:
    found = []
    for a in w.connector.activities(thread):
        for attachment in a.get("attachments") or []:
            body = attachment["content"].get("body") or [{}]
            if str(body[0].get("text", "")).startswith(starts):
                found.append({"id": a["id"], **attachment["content"]})
    return found


def actions_of(content: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for block in content.get("body", []):
        if block.get("type") == "ActionSet":
            out += block["actions"]
        out += actions_of({"body": block.get("items", [])})
    return out


def test_suggestions_card_runs_through_the_gates_and_takes_feedback(teams_world: TeamsWorld) -> None:
    w = teams_world
    w.app.knowledge.ingest(DEMO, w.org_id)
    thread = w.declare("declare Checkout 5xx after the deploy, payments-db pool exhausted sev2")
    w.sender.command(w.bob, thread, NOTE)
    w.sender.command(w.alice, thread, "suggest")
    assert any("posted in the thread under the war-room message" in t for t in w.bot_texts(thread))
    def runnable() -> dict[str, Any] | None:
        return next((c for c in cards_in(w, thread, "Suggested next steps for INC-1")
                     if any(a["verb"] == "suggestion.run" for a in actions_of(c))), None)

    card = eventually(runnable, what="a suggestions card with a Run button")
    assert card is not None
    assert "Source: runbooks/" in str(card["body"])
    buttons = actions_of(card)
    run = next(a for a in buttons if a["verb"] == "suggestion.run")
    up = next(a for a in buttons if a["verb"] == "suggestion.feedback" and a["data"]["helpful"] is True)
    viewer, _ = w.sender.execute(w.carol, thread, card["id"], run["verb"], run["data"])
    assert viewer.json()["statusCode"] == 403
    clicked, _ = w.sender.execute(w.bob, thread, card["id"], run["verb"], run["data"])
    answer = clicked.json()
    assert answer["statusCode"] == 200 and answer["type"] == "application/vnd.microsoft.activity.message"
    action_card = eventually(lambda: cards_in(w, thread, "🛠"), what="action card in the thread")[-1]
    assert "RISK" in str(action_card) and "ActionRequested" in w.events()
    again, _ = w.sender.execute(w.bob, thread, card["id"], run["verb"], run["data"])
    assert again.json()["statusCode"] == 200 and w.events().count("ActionRequested") == 1  # one action per step
    thanks, _ = w.sender.execute(w.alice, thread, card["id"], up["verb"], up["data"])
    assert "Thanks" in thanks.json()["value"] and "SuggestionFeedbackGiven" in w.events()
    forged, _ = w.sender.execute(w.bob, thread, card["id"], "action.request", {
        "incident_id": "INC-1", "action": "runbook_command", "command": "rm -rf /", "source": "runbooks/x.md"})
    assert forged.json()["statusCode"] == 400 and "recorded suggestion" in forged.json()["value"]["message"]
    assert CARD == "application/vnd.microsoft.card.adaptive"
