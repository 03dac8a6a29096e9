"""The conversation store the Teams adapter needs (storage implements it; handlers never see SQL)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol


class ConversationStore(Protocol):
    """Conversation references for proactive posts, scoped by org; references are botbuilder JSON."""

    def remember(self, org_id: str, reference: dict[str, Any], *, kind: str, tenant_id: str | None,
                 team_id: str | None, channel_id: str | None, incident_id: str | None = None) -> None:
        """Store (or refresh) the reference of one conversation; threads opened as rooms carry their incident."""
        ...

    def reference(self, org_id: str, conversation_id: str) -> dict[str, Any] | None:
        """The stored reference of one conversation."""
        ...

    def route_to_channel(self, org_id: str, channel_id: str) -> dict[str, Any] | None:
        """Any reference whose service URL reaches the channel (same channel, same team, else the org's latest)."""
        ...

    def tenant(self, org_id: str, conversation_id: str) -> str | None:
        """The tenant stored with a conversation, else with its channel (a thread the bot opened)."""
        ...

    def incident_thread(self, org_id: str, incident_id: str) -> dict[str, Any] | None:
        """The thread already opened for an incident, if any (a retried open finds it)."""
        ...

    def note_declare_origin(self, org_id: str, user_id: str, channel_id: str) -> None:
        """Remember the channel a person declares from."""
        ...

    def declare_origin(self, org_id: str, user_id: str) -> tuple[str, datetime] | None:
        """(channel id, when) of a person's latest declaration from Teams."""
        ...
