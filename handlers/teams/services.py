"""What the Teams handlers need, injected by the composition root (no globals, no database)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from handlers.teams.ids import PLATFORM
from handlers.teams.people import PeopleStore
from handlers.teams.references import ConversationStore
from handlers.teams.roster import Roster
from incident_core.action_usecases import ActionExecutor
from incident_core.chat_service import ChatContext, ChatService
from incident_core.ports import IncidentQueries
from incident_core.usecases import Deps


@dataclass(frozen=True)
class TeamsServices:
    """The same ChatService and use cases Slack uses, plus Teams' conversation and people stores."""

    chat: ChatService
    queries: IncidentQueries
    deps: Deps
    executor: ActionExecutor
    store: ConversationStore
    bound_org: Callable[[str], str | None]
    first_answer: Callable[[str], bool]
    incident_changed: Callable[[], Awaitable[None]]
    names: Callable[[str], dict[str, str]]
    people: PeopleStore | None = None
    roster: Roster | None = None

    def context(self, org_id: str, actor: str, conversation_id: str | None) -> ChatContext:
        """The ChatContext of an activity: the incident is the one whose thread this is, if any."""
        incident = self.queries.by_room(org_id, PLATFORM, conversation_id) if conversation_id else None
        return ChatContext(org_id=org_id, platform=PLATFORM, user=actor, room_id=conversation_id,
                           incident_id=incident.incident_id if incident else None)

    def incident_channel(self, org_id: str) -> str | None:
        """The org's default incident channel (`teams.incident_channel` in its settings), if set."""
        org = self.deps.directory.org(org_id)
        return org.config.teams.incident_channel if org else None

    def project_for_channel(self, org_id: str, channel_id: str | None) -> str | None:
        """The project whose incident channel (`teams_channel` setting) this is, if any."""
        if not channel_id:
            return None
        for project in self.deps.directory.projects(org_id):
            if project.config.teams_channel == channel_id:
                return project.id
        return None
