"""What an outbox subscriber receives, and how subscribers are grouped by topic."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

CHANGED = "incident.changed"  # every append leaves one: rooms, guidance, recurrence and drafts react to it


class Message(Protocol):
    """One outbox message as a subscriber sees it (storage's PendingMessage is one)."""

    @property
    def org_id(self) -> str: ...

    @property
    def key(self) -> str: ...

    @property
    def payload(self) -> Mapping[str, Any]: ...

    @property
    def attempts(self) -> int: ...


Subscriber = Callable[[Message], None]
Subscriptions = dict[str, list[Subscriber]]


def incident_of(msg: Message) -> str:
    """The incident a message is about ("" when it names none)."""
    return str(msg.payload.get("incident_id", ""))
