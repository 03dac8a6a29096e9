"""What the Slack listeners need, injected by the composition root (no globals, no database)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from incident_core.action_usecases import ActionExecutor
from incident_core.chat_service import ChatContext, ChatService
from incident_core.ports import IncidentQueries
from incident_core.usecases import Deps

PLATFORM = "slack"


@dataclass(frozen=True)
class SlackServices:
    chat: ChatService
    queries: IncidentQueries
    deps: Deps
    bound_org: Callable[[str], str | None]
    incident_changed: Callable[[], Awaitable[None]]
    executor: ActionExecutor | None = None  # runs playbook actions (the simulator unless bot/ chose another)
    known_org: Callable[[str], str | None] = lambda _key: None  # a binding known without I/O, if any

    def context(self, org_id: str, user: str, channel: str | None) -> ChatContext:
        """The ChatContext of a request: the incident is the one whose channel this is, if any."""
        incident = self.queries.by_room(org_id, PLATFORM, channel) if channel else None
        return ChatContext(org_id=org_id, platform=PLATFORM, user=f"{PLATFORM}:{user}", room_id=channel,
                           incident_id=incident.incident_id if incident else None)
