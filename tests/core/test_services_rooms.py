"""Room policy in the core, with fakes: when a room opens on each platform, who is invited, refresh, archive.

Each rule here was once only in a platform's subscriber in bot/ (and drifted: Teams invited nobody)."""

from __future__ import annotations

import pytest

from incident_core import usecases as uc
from incident_core.model import IncidentRole
from incident_core.rooms import ARCHIVE_TOPIC
from incident_core.services.messages import CHANGED
from incident_core.services.platforms import Platforms
from incident_core.services.rooms import RoomArchiver, RoomKeeper, keep_room, opens_room, responders_for
from incident_core.services.subscriptions import Collaborators, subscriptions
from tests.core.fakes import FakeChat, Health, Index, Msg, NoGuidance, World, plugin

PLATFORMS = (("slack", "Slack"), ("teams", "Teams"))


def declare(w: World, *, source: str = "chat", project: str | None = None, actor: str = "slack:UDECL") -> str:
    result = uc.declare_incident(deps=w.deps, org_id=w.org_id, actor=actor, title="Checkout latency",
                                 project_id=project, source=source, check_role=False)
    return result.state.incident_id


def keep(w: World, chat: FakeChat, incident_id: str) -> str:
    return keep_room(deps=w.deps, queries=w.queries, deliveries=w.deliveries, chat=chat, org_id=w.org_id,
                     incident_id=incident_id)


def table(w: World, *chats: FakeChat) -> dict[str, list[object]]:
    """The real subscription table over fake platforms (what bot/worker.py wires)."""
    c = Collaborators(deps=w.deps, queries=w.queries, deliveries=w.deliveries, guidance=NoGuidance,
                      knowledge=Index, feedback=None, health=Health(), publisher_for=lambda t: None,  # type: ignore[arg-type,return-value]
                      narrator=None, history=None, tracker_for=lambda _o: None)  # type: ignore[arg-type]
    labels = dict(PLATFORMS)
    return subscriptions(c, Platforms([plugin(chat, labels[chat.platform]) for chat in chats]))  # type: ignore[return-value]


@pytest.mark.parametrize("platform", ["slack", "teams"])
def test_a_project_incident_from_a_signal_opens_a_room_by_default(platform: str) -> None:
    w = World()
    project = w.project("checkout")
    chat = FakeChat(platform)
    incident = declare(w, source="signal:alertmanager", project=project)
    assert keep(w, chat, incident) == "opened"
    assert len(chat.opened) == 1 and platform in w.state(incident).rooms


@pytest.mark.parametrize("platform", ["slack", "teams"])
def test_a_project_can_turn_rooms_off_and_an_unrouted_signal_needs_the_org_switch(platform: str) -> None:
    w = World()
    quiet = w.project("batch", auto_channel=False)
    chat = FakeChat(platform)
    assert keep(w, chat, declare(w, source="signal:grafana", project=quiet)) == "not wanted"
    unrouted = declare(w, source="signal:grafana")
    assert keep(w, chat, unrouted) == "not wanted"
    w.org_settings({platform: {"auto_channel": True}})
    assert keep(w, chat, unrouted) == "opened"
    assert len(chat.opened) == 1


def test_the_room_opening_rule() -> None:
    w = World()
    chat_declared = w.state(declare(w, source="chat", project=w.project("x", auto_channel=False)))
    signal = w.state(declare(w, source="signal:datadog"))
    assert opens_room(chat_declared, platform={}, project={"auto_channel": False})
    assert opens_room(signal, platform={}, project={})  # a project's incident: on unless switched off
    assert not opens_room(signal, platform={}, project={"auto_channel": False})
    assert not opens_room(signal, platform={}, project=None)  # no project: the org's switch, off by default
    assert opens_room(signal, platform={"auto_channel": True}, project=None)


def test_each_platform_invites_the_declarer_role_holders_and_the_projects_responders() -> None:
    w = World()
    project = w.project("checkout", responders=["UONCALL", "teams:aad-oncall", "slack:USRE"])
    incident = declare(w, source="signal:alertmanager", project=project, actor="teams:aad-declarer")
    uc.assign_role(deps=w.deps, org_id=w.org_id, incident_id=incident, actor="teams:aad-declarer",
                   role=IncidentRole.SCRIBE, assignee="slack:USCRIBE")
    subs = table(w, slack := FakeChat("slack"), teams := FakeChat("teams"))
    for keeper in subs[CHANGED]:
        if isinstance(keeper, RoomKeeper):
            keeper(Msg(w.org_id, {"incident_id": incident}))
    (slack_plan,), (teams_plan,) = slack.opened, teams.opened
    for plan in (slack_plan, teams_plan):  # the same people for every platform; each invites its own kind
        assert {"slack:UONCALL", "slack:USRE", "teams:aad-oncall", "teams:aad-declarer",
                "slack:USCRIBE"} <= set(plan.invitees)


def test_responders_are_platform_ids_and_bare_ids_are_slack_users() -> None:
    assert responders_for({"responders": ["U1", "teams:abc", " slack:U2 ", ""]}) == ["slack:U1", "teams:abc",
                                                                                   "slack:U2"]
    assert responders_for(None) == [] and responders_for({"responders": "U9"}) == ["slack:U9"]


def test_an_open_room_is_refreshed_not_reopened_and_a_blocked_platform_waits() -> None:
    w = World()
    incident = declare(w)
    slack, teams = FakeChat("slack"), FakeChat("teams", blocked="no Teams incident channel yet")
    assert keep(w, slack, incident) == "opened"
    assert keep(w, teams, incident) == "cannot open" and not teams.opened
    assert keep(w, slack, incident) == "refreshed"
    assert len(slack.opened) == 1 and slack.refreshed == ["slack-room-1"]


def test_rooms_wait_for_the_recurrence_line_and_guidance_waits_for_every_room() -> None:
    w = World()
    changed = table(w, FakeChat("slack"), FakeChat("teams"))[CHANGED]
    names = [getattr(fn, "subscriber_name", "") for fn in changed]
    assert names == ["RecurrenceWatcher", "SlackRoomKeeper", "TeamsRoomKeeper", "GuidanceOfferer", "AutoDrafter"]
    after = {getattr(fn, "subscriber_name", ""): tuple(getattr(fn, "after", ())) for fn in changed}
    assert after["SlackRoomKeeper"] == after["TeamsRoomKeeper"] == ("RecurrenceWatcher",)
    assert after["GuidanceOfferer"] == ("SlackRoomKeeper", "TeamsRoomKeeper")


def test_an_org_without_the_platform_bound_gets_no_room() -> None:
    w = World()
    chat = FakeChat("slack")
    RoomKeeper(deps=w.deps, queries=w.queries, deliveries=w.deliveries, plugin=plugin(chat, "Slack", bound=False))(
        Msg(w.org_id, {"incident_id": declare(w)}))
    assert not chat.opened


def test_an_archive_goes_to_its_own_platform_only() -> None:
    w = World()
    slack, teams = FakeChat("slack"), FakeChat("teams")
    archivers = table(w, slack, teams)[ARCHIVE_TOPIC]
    assert all(isinstance(a, RoomArchiver) for a in archivers)
    for archive in archivers:
        archive(Msg(w.org_id, {"incident_id": "i", "platform": "teams", "room_id": "19:thread"}))  # type: ignore[operator]
    assert teams.archived == ["19:thread"] and slack.archived == []
