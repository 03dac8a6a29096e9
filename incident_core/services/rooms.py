"""Room policy: when an incident gets a room on a platform, who is invited, where it is announced; keeping
the war-room message current; archiving closed rooms."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from incident_core.delivery import Deliveries
from incident_core.ports import IncidentQueries
from incident_core.rooms import ensure_room, plan_for, refresh_room
from incident_core.services.messages import Message, incident_of
from incident_core.services.platforms import ChatPlatform, PlatformPlugin
from incident_core.state import IncidentState
from incident_core.usecases import Deps

log = logging.getLogger("revenant.rooms")
RECURRENCE_WATCHER = "RecurrenceWatcher"  # rooms open with its line, so they wait for it


def platform_settings(org_settings: Mapping[str, Any], platform: str) -> dict[str, Any]:
    """The org's settings for one platform (`slack: {announce_channel, auto_channel}`, `teams: {…}`)."""
    found = org_settings.get(platform)
    return dict(found) if isinstance(found, dict) else {}


def opens_room(state: IncidentState, *, platform: Mapping[str, Any], project: Mapping[str, Any] | None) -> bool:
    """Whether an incident without a room gets one: always when declared in chat; for a project's incident
    unless the project sets `auto_channel: false`; otherwise only when the org's platform `auto_channel` is on."""
    if state.source == "chat":
        return True
    if project is not None:
        return bool(project.get("auto_channel", True))
    return bool(platform.get("auto_channel", False))


def responders_for(project: Mapping[str, Any] | None) -> list[str]:
    """The project's responders as platform ids: `slack:U1`, `teams:<object id>`; a bare id is a Slack user
    (how `responders` was first documented). Each platform invites the ids of its own kind."""
    raw = (project or {}).get("responders") or []
    people: Sequence[Any] = raw if isinstance(raw, list | tuple) else [raw]
    return [p if ":" in p else f"slack:{p}" for p in (str(x).strip() for x in people) if p]


def keep_room(*, deps: Deps, queries: IncidentQueries, deliveries: Deliveries, chat: ChatPlatform, org_id: str,
              incident_id: str) -> str:
    """Refresh the incident's room on this platform, or open it when policy says so; returns what it did
    ("refreshed", "opened", "not wanted", "cannot open", "no incident")."""
    state = queries.get(org_id, incident_id)
    if state is None:
        return "no incident"
    if chat.platform in state.rooms:
        refresh_room(deps=deps, queries=queries, chat=chat, org_id=org_id, incident_id=incident_id)
        return "refreshed"
    org = deps.directory.org(org_id)
    settings = platform_settings(org.settings if org else {}, chat.platform)
    project = deps.directory.project(org_id, state.project_id) if state.project_id else None
    project_settings = project.settings if project is not None else None
    if not opens_room(state, platform=settings, project=project_settings):
        return "not wanted"
    reason = chat.cannot_open(state)
    if reason:
        log.info("%s", reason)
        return "cannot open"
    plan = plan_for(state, responders=responders_for(project_settings), announce_to=settings.get("announce_channel"))
    ensure_room(deps=deps, queries=queries, chat=chat, deliveries=deliveries, org_id=org_id, incident_id=incident_id,
                plan=plan)
    return "opened"


class RoomKeeper:
    """incident.changed → open the incident's room on one platform when due, else refresh its war room."""

    after = (RECURRENCE_WATCHER,)

    def __init__(self, *, deps: Deps, queries: IncidentQueries, deliveries: Deliveries,
                 plugin: PlatformPlugin) -> None:
        self.deps, self.queries, self.deliveries, self.plugin = deps, queries, deliveries, plugin
        self.subscriber_name = plugin.subscriber_name("RoomKeeper")

    def __call__(self, msg: Message) -> None:
        chat = self.plugin.chat_for(msg.org_id)
        if chat is None:
            return
        keep_room(deps=self.deps, queries=self.queries, deliveries=self.deliveries, chat=chat, org_id=msg.org_id,
                  incident_id=incident_of(msg))


class RoomArchiver:
    """room.archive → archive a closed incident's room on its platform (rooms_to_archive decides when)."""

    def __init__(self, plugin: PlatformPlugin) -> None:
        self.plugin = plugin
        self.subscriber_name = plugin.subscriber_name("RoomArchiver")

    def __call__(self, msg: Message) -> None:
        if msg.payload.get("platform") != self.plugin.name:
            return
        chat = self.plugin.chat_for(msg.org_id)
        if chat is not None:
            chat.archive(str(msg.payload["room_id"]))
