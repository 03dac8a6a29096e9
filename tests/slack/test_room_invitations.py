"""A project incident opened by a signal gets its Slack channel by default, with the project's responders
invited (the room policy in incident_core/services/rooms.py, through the Slack adapter and the emulator)."""

from __future__ import annotations

from incident_core import usecases as uc
from tests.slack.conftest import SlackWorld, eventually


def test_a_project_incident_opens_a_channel_and_invites_its_responders(slack_world: SlackWorld) -> None:
    w = slack_world
    project = w.app.directory.create_project(w.org_id, "checkout", {"responders": [w.bob, f"teams:aad-{w.carol}"]})
    uc.declare_incident(deps=w.app.deps, org_id=w.org_id, actor="revenant", title="Checkout 5xx above 2%",
                        project_id=project.id, source="signal:alertmanager", check_role=False)
    channel = w.channel_of()  # a project's incident opens a channel without any auto_channel setting
    members = eventually(lambda: w.slack.channel(channel).members, what="channel members")
    assert w.bob in members  # the project's responder (a bare id is a Slack user)
    invites = w.slack.calls("conversations.invite")
    assert len(invites) == 1 and w.bob in invites[0]["users"]
    assert "aad-" not in invites[0]["users"]  # a Teams id is not sent to Slack
