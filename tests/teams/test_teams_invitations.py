"""Teams threads have no members, so the room's people (declarer, role holders, the project's responders) are
@mentioned in the thread when it opens: the same room plan as Slack's, through the Bot Connector emulator."""

from __future__ import annotations

from typing import Any

from incident_core import usecases as uc
from tests.slack.conftest import eventually
from tests.teams.conftest import TeamsWorld


def mentions(w: TeamsWorld, thread: str) -> list[dict[str, Any]]:
    return [e for a in w.connector.activities(thread) for e in a.get("entities") or []
            if e.get("type") == "mention"]


def test_a_project_incident_thread_mentions_its_responders_once(teams_world: TeamsWorld) -> None:
    w = teams_world
    w.declare()  # the bot learns where the tenant's channels are
    project = w.app.directory.create_project(w.org_id, "checkout", {"responders": [w.actor(w.bob), "USLACK1"]})
    uc.declare_incident(deps=w.app.deps, org_id=w.org_id, actor="revenant", title="Checkout 5xx above 2%",
                        project_id=project.id, source="signal:alertmanager", check_role=False)
    thread = w.thread_of("INC-2")  # a project's incident opens a thread without any auto_channel setting
    found = eventually(lambda: mentions(w, thread), what="the responders mentioned")
    assert [m["mentioned"]["id"] for m in found] == [w.bob.aad_object_id]  # a Slack id is not mentioned
    assert found[0]["text"] == "<at>Bob Brown</at>" and found[0]["mentioned"]["name"] == "Bob Brown"
    text = next(a["text"] for a in w.connector.activities(thread) if a.get("entities"))
    assert "<at>Bob Brown</at>" in text


def test_a_thread_declared_in_chat_mentions_its_declarer(teams_world: TeamsWorld) -> None:
    w = teams_world
    thread = w.declare()
    found = eventually(lambda: mentions(w, thread), what="the declarer mentioned")
    assert {m["mentioned"]["id"] for m in found} == {w.alice.aad_object_id}
