"""The postmortem review and approval form on Teams: same use cases and permissions as Slack's modal."""

from __future__ import annotations

from typing import Any

from tests.slack.conftest import eventually
from tests.teams.conftest import CARD, TeamsWorld


def review_card(w: TeamsWorld, thread: str) -> dict[str, Any]:
    def find() -> dict[str, Any] | None:
        for activity in reversed(w.connector.activities(thread)):
            for att in activity.get("attachments") or []:
                body = (att.get("content") or {}).get("body") or [{}]
                if str(body[0].get("text", "")).startswith("Postmortem —"):
                    return {"activity": activity, "card": att["content"]}
        return None

    return eventually(find, what="the postmortem review card")  # type: ignore[no-any-return]


def test_review_edit_submit_and_approval_permissions(teams_world: TeamsWorld) -> None:
    w = teams_world
    thread = w.declare("declare Search is slow sev2")
    for text in ("status mitigated cache warmed", "status resolved latency normal for 15 minutes"):
        w.sender.command(w.alice, thread, text)
    eventually(lambda: w.incident().status.value == "resolved", what="resolved")
    w.sender.command(w.bob, thread, "postmortem")
    found = review_card(w, thread)
    card, message_id = found["card"], found["activity"]["id"]
    inputs = {b["id"]: b for b in card["body"] if b["type"] == "Input.Text"}
    assert "pm_summary" in inputs and inputs["pm_summary"]["value"].strip()
    verbs = {a["title"]: a for a in card["actions"]}
    data = {**verbs["Save draft"]["data"], "pm_lucky": "- The slowdown started outside peak hours [ev 1]"}
    saved, _ = w.sender.execute(w.bob, thread, message_id, verbs["Save draft"]["verb"], data)
    assert saved.status == 200 and saved.json()["type"] == CARD
    assert "PostmortemEdited" in w.events()
    assert w.incident().postmortem.sections["lucky"].startswith("- The slowdown started outside peak hours")
    viewer, _ = w.sender.execute(w.carol, thread, message_id, verbs["Save draft"]["verb"],
                                 {**data, "pm_lucky": "vandalized"})
    assert viewer.json()["statusCode"] == 403
    submitted, _ = w.sender.execute(w.bob, thread, message_id, verbs["Submit for approval"]["verb"],
                                    verbs["Submit for approval"]["data"])
    assert submitted.json()["statusCode"] == 200 and "PostmortemSubmitted" in w.events()
    refused, _ = w.sender.execute(w.bob, thread, message_id, verbs["Approve and publish"]["verb"],
                                  verbs["Approve and publish"]["data"])
    assert refused.json()["statusCode"] == 403 and "approve" in refused.json()["value"]["message"]
    approved, _ = w.sender.execute(w.alice, thread, message_id, verbs["Approve and publish"]["verb"],
                                   verbs["Approve and publish"]["data"])
    assert approved.json()["statusCode"] == 200 and "PostmortemApproved" in w.events()
    assert w.incident().postmortem.sections["lucky"] != "vandalized"
