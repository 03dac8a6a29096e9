"""Playbook actions from Adaptive Cards: the same gates as everywhere (confirmation, two-person approval)."""

from __future__ import annotations

from typing import Any

from emulators.bot_connector_state import Member
from emulators.teams_markdown import visible
from tests.teams.conftest import CARD, TeamsWorld

FAILOVER = {"action": "failover_database", "params": {"cluster": "orders-db", "target": "orders-db-2"}}
FLUSH = {"action": "flush_cache", "params": {"host": "redis-sessions"}}


def click(w: TeamsWorld, who: Member, thread: str, verb: str, data: dict[str, Any]) -> dict[str, Any]:
    delivery, _ = w.sender.execute(who, thread, thread.split("=", 1)[1], verb, data)
    assert delivery.status == 200, delivery.body
    return dict(delivery.json())


def buttons(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["title"]: a for a in card.get("actions", [])}


def test_high_risk_needs_a_second_commander_and_self_approval_is_refused(teams_world: TeamsWorld) -> None:
    w = teams_world
    thread = w.declare()
    iid = w.incident().incident_id
    asked = click(w, w.alice, thread, "action.request", {"incident_id": iid, **FAILOVER})
    assert asked["statusCode"] == 200 and asked["type"] == CARD
    card = asked["value"]
    assert "HIGH RISK" in card["body"][1]["text"] and card["body"][1]["color"] == "attention"
    assert card["body"][2]["text"].startswith("aws rds failover-db-cluster --db-cluster-identifier orders-db")
    approve = buttons(card)["Approve and run"]
    own = click(w, w.alice, thread, approve["verb"], approve["data"])
    assert own["statusCode"] == 403 and own["type"] == "application/vnd.microsoft.error"
    assert "second person" in own["value"]["message"]
    responder = click(w, w.bob, thread, approve["verb"], approve["data"])
    assert responder["statusCode"] == 403 and "commander" in responder["value"]["message"]
    assert w.incident().actions[approve["data"]["action_id"]].status == "awaiting_approval"
    done = click(w, w.dave, thread, approve["verb"], approve["data"])
    assert done["statusCode"] == 200
    facts = {f["title"]: f["value"] for b in done["value"]["body"] if b["type"] == "FactSet" for f in b["facts"]}
    assert facts["Status"].startswith("✅ Ran") and "approved by" in facts["Status"]
    assert any("[simulated]" in visible(b.get("text", "")) for b in done["value"]["body"])
    again = click(w, w.dave, thread, approve["verb"], approve["data"])
    assert again["statusCode"] == 409  # runs once
    events = w.events()
    assert events.count("ActionExecuted") == 1 and events.count("ActionApproved") == 1
    assert any("approved" in t or "Ran" in t for t in w.bot_texts(thread))


def test_medium_risk_is_confirmed_by_its_requester_and_can_be_denied(teams_world: TeamsWorld) -> None:
    w = teams_world
    thread = w.declare()
    iid = w.incident().incident_id
    first = click(w, w.bob, thread, "action.request", {"incident_id": iid, **FLUSH})["value"]
    assert set(buttons(first)) == {"Confirm and run", "Cancel"}
    confirm = buttons(first)["Confirm and run"]
    other = click(w, w.alice, thread, confirm["verb"], confirm["data"])
    assert other["statusCode"] == 403 and "only" in other["value"]["message"]
    ran = click(w, w.bob, thread, confirm["verb"], confirm["data"])["value"]
    assert "✅ Ran" in str(ran)
    second = click(w, w.bob, thread, "action.request", {"incident_id": iid, **FLUSH})["value"]
    cancel = buttons(second)["Cancel"]
    denied = click(w, w.alice, thread, cancel["verb"], cancel["data"])["value"]
    assert "🚫 Denied by" in str(denied) and not denied.get("actions")
    viewer = click(w, w.carol, thread, "action.request", {"incident_id": iid, **FLUSH})
    assert viewer["statusCode"] == 403
    bad = click(w, w.bob, thread, "action.request", {"incident_id": iid, "action": "rm_rf", "params": {}})
    assert bad["statusCode"] == 400 and "unknown action" in bad["value"]["message"]
    types = w.events()
    assert types.count("ActionRequested") == 2 and types.count("ActionDenied") == 1
