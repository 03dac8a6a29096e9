"""Teams threads have no members, so the room's people (declarer, role holders, the project's responders) are
named in the thread when it opens — @mentioned when their Teams account is known or the team's roster has them,
else by display name (docs/teams.md, Mentions): the same room plan as Slack's invitations, through the Bot
Connector emulator."""

from __future__ import annotations

from incident_core import usecases as uc
from tests.slack.conftest import eventually
from tests.teams.conftest import TeamsWorld

NAMED = "On this incident: "


def named(w: TeamsWorld, thread: str) -> list[str]:
    return [t for t in w.bot_texts(thread) if NAMED in t]


def test_a_project_incident_thread_names_its_responders_once(teams_world: TeamsWorld) -> None:
    w = teams_world
    w.declare()  # the bot learns where the tenant's channels are
    project = w.app.directory.create_project(w.org_id, "checkout", {"responders": [w.actor(w.bob), "USLACK1"]})
    uc.declare_incident(deps=w.app.deps, org_id=w.org_id, actor="revenant", title="Checkout 5xx above 2%",
                        project_id=project.id, source="signal:alertmanager", check_role=False)
    thread = w.thread_of("INC-2")  # a project's incident opens a thread without any auto_channel setting
    (line,) = eventually(lambda: named(w, thread), what="the responders named")
    assert line.endswith(NAMED + "<at>Bob Brown</at>") and "USLACK1" not in line  # a Slack id is not named on Teams
    mentioned = [e["mentioned"]["id"] for a in w.connector.activities(thread) for e in a.get("entities") or []]
    assert set(mentioned) == {w.bob.id}  # Bob, found in the team's roster; nobody else is @mentioned


def test_a_thread_declared_in_chat_names_its_declarer(teams_world: TeamsWorld) -> None:
    w = teams_world
    thread = w.declare()
    (line,) = eventually(lambda: named(w, thread), what="the declarer named")
    assert "Alice Adams" in line
