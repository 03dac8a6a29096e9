"""Incident rooms on chat platforms: the chat port and the use cases that keep rooms current."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from incident_core import commands as cmd
from incident_core import richtext as rt
from incident_core import usecases as uc
from incident_core import warroom
from incident_core.delivery import Deliveries, Steps
from incident_core.delivery_snapshot import fresh_reads
from incident_core.errors import NotFound
from incident_core.ports import IncidentQueries, OutboxMessage
from incident_core.state import IncidentState


@dataclass(frozen=True)
class RoomPlan:
    """How to open a room: who to invite, which links to bookmark, where to announce."""

    invitees: list[str] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)
    announce_to: str | None = None


@dataclass(frozen=True)
class OpenedRoom:
    room_id: str
    name: str
    message_id: str | None


class ChatPort(Protocol):
    """What a chat platform adapter does for incident rooms (Slack: a channel; Teams: a thread)."""

    platform: str

    def open_room(self, state: IncidentState, view: warroom.WarRoom, plan: RoomPlan, steps: Steps) -> OpenedRoom:
        """Create the room, post and pin the war-room message, announce it: each step recorded in `steps`,
        and each looked for (an interrupted attempt may have made it) before it is made."""
        ...

    def refresh(self, room_id: str, message_id: str, view: warroom.WarRoom) -> None:
        """Edit the war-room message in place."""
        ...

    def post(self, room_id: str, content: rt.Rich, *, thread_id: str | None = None) -> str:
        """Post a message (or a thread reply); returns its id."""
        ...

    def archive(self, room_id: str) -> None: ...


def plan_for(state: IncidentState, *, responders: list[str], announce_to: str | None) -> RoomPlan:
    """Invite the declarer, the role holders and the project's responders; bookmark signal links (http(s) only)."""
    people = [state.declared_by, *state.roles.values(), *responders]
    links = []
    for s in state.recent_signals:
        url = rt.safe_url(s.get("url"))
        if url:
            links.append((rt.one_line(str(s.get("title")), 70), url))
    return RoomPlan(invitees=list(dict.fromkeys(people)), links=links, announce_to=announce_to)


def room_key(platform: str, incident_id: str) -> str:
    """The delivery key of opening an incident's room on a platform (its claim and its steps)."""
    return f"room:{platform}:{incident_id}"


def ensure_room(*, deps: uc.Deps, queries: IncidentQueries, chat: ChatPort, deliveries: Deliveries, org_id: str,
                incident_id: str, plan: RoomPlan) -> IncidentState:
    """Open the incident's room on this platform unless it has one; record it on the timeline.

    Opening is claimed once per (org, incident, platform) across processes and resumes from its
    recorded steps, so a retry, a second process or a restarted worker never opens a second room.
    """
    state = queries.get(org_id, incident_id)
    if state is None:
        raise NotFound(f"no incident {incident_id}")
    if chat.platform in state.rooms:
        return state
    with deliveries.run(org_id, room_key(chat.platform, incident_id), f"the {chat.platform} room of "
                        f"{state.human_id}") as steps:
        with fresh_reads():  # the claim's last holder may have finished it: not the delivery's snapshot
            state = queries.get(org_id, incident_id) or state
        if chat.platform in state.rooms:
            return state
        opened = chat.open_room(state, warroom.build(state, deps.clock.now()), plan, steps)
        return _record_room(deps, chat, org_id, incident_id, opened)


def _record_room(deps: uc.Deps, chat: ChatPort, org_id: str, incident_id: str, opened: OpenedRoom) -> IncidentState:
    result = uc.apply_command(deps=deps, check_role=False, idempotency_key=f"room:{chat.platform}:{incident_id}",
                              command=cmd.RecordRoom(org_id=org_id, incident_id=incident_id, actor="system",
                                                     occurred_at=deps.clock.now(), platform=chat.platform,
                                                     room_id=opened.room_id, room_name=opened.name,
                                                     message_id=opened.message_id))
    return result.state


def refresh_room(*, deps: uc.Deps, queries: IncidentQueries, chat: ChatPort, org_id: str,
                 incident_id: str) -> bool:
    """Re-render the war-room message from the current state; False when there is no room."""
    state = queries.get(org_id, incident_id)
    room = state.rooms.get(chat.platform) if state else None
    if state is None or not room or not room.message_id:
        return False
    chat.refresh(room.room_id, room.message_id, warroom.build(state, deps.clock.now()))
    return True


ARCHIVE_TOPIC = "room.archive"


def rooms_to_archive(state: IncidentState, now: datetime, after: timedelta) -> list[OutboxMessage]:
    """One archive message per room of a closed incident once `after` has passed since it closed.

    The key names the room, so however many schedulers evaluate it, the room is archived once.
    """
    closed = state.status_times.get("closed")
    if state.status.value != "closed" or not closed or now < datetime.fromisoformat(closed) + after:
        return []
    return [OutboxMessage(topic=ARCHIVE_TOPIC, key=f"archive:{platform}:{state.incident_id}",
                          payload={"incident_id": state.incident_id, "platform": platform,
                                   "room_id": room.room_id})
            for platform, room in state.rooms.items() if room.room_id]
