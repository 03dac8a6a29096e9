"""Chat notices: rich text every platform posts into an incident's room, left in the outbox."""

from __future__ import annotations

from incident_core import richtext as rt
from incident_core.ports import OutboxMessage
from incident_core.richtext_json import to_json

NOTICE = "chat.notice"


def notice_message(incident_id: str, content: rt.Rich, key: str) -> OutboxMessage:
    """A chat notice for the incident's rooms; the payload carries the rich text as JSON."""
    return OutboxMessage(topic=NOTICE, payload={"incident_id": incident_id, "content": to_json(content)}, key=key)
