"""Chat platforms as plugins: the one interface Slack, Teams (and any next platform) implement, and how
they are registered.

A platform adapter (handlers/<platform>/outbound.py) implements `ChatPlatform` for one org; the composition
root registers it as a `PlatformPlugin` (name, label, a per-org factory, any platform-only subscriptions).
Every service here takes plugins, never a platform by name, so adding one touches its package and its
registration only (docs/architecture.md, "Adding a chat platform").
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from incident_core import richtext as rt
from incident_core.guidance import Guidance
from incident_core.rooms import ChatPort
from incident_core.services.messages import Subscriber
from incident_core.state import IncidentState

Posted = dict[str, Any]  # what a post left: the ids a retry needs (recorded as the delivery's step)

log = logging.getLogger("revenant.rooms")


class RoomGone(Exception):
    """The room takes no more posts (archived, deleted, the bot removed from it): retrying cannot succeed.

    Adapters raise it with the reason in words; the posting services record the post as skipped."""


def skip_if_gone(what: str, room: RoomRef, post: Callable[[], Posted]) -> Callable[[], Posted]:
    """`post`, except that a room that is gone ends the delivery as skipped: logged, and recorded as the
    delivery's outcome (`{"skipped": why}`), instead of being retried until it is a dead letter."""

    def attempt() -> Posted:
        try:
            return post()
        except RoomGone as gone:
            log.warning("%s skipped: %s (room %s)", what, gone, room.room_id)
            return {"skipped": str(gone)}

    return attempt


@dataclass(frozen=True)
class RoomRef:
    """Where an incident lives on one platform: the room and its war-room message (threads hang off it)."""

    room_id: str
    message_id: str | None


def room_of(state: IncidentState | None, platform: str) -> RoomRef | None:
    """The incident's room on a platform, or None when it has none (yet)."""
    room = state.rooms.get(platform) if state is not None else None
    if room is None or not room.room_id:
        return None
    return RoomRef(room.room_id, room.message_id or None)


class ChatPlatform(ChatPort, Protocol):
    """One chat platform for one org: open a room (inviting the plan's people), keep its war-room message
    current, post guidance and notices, archive. Posts return the ids a retry needs; the services wrap them
    in claimed, recorded deliveries, so an adapter only has to find its own earlier copy where it can."""

    def cannot_open(self, state: IncidentState) -> str | None:
        """Why a room cannot be opened for this incident now (e.g. no channel configured), or None."""
        ...

    def post_guidance(self, state: IncidentState, room: RoomRef, guidance: Guidance, *, trigger: str,
                      batch_id: str) -> Posted:
        """Reply under the war-room message with the suggestions (finding an earlier copy where possible)."""
        ...

    def post_notice(self, state: IncidentState, room: RoomRef, content: rt.Rich, *, key: str,
                    snooze: str | None) -> Posted:
        """Post a notice (reminder, draft, publishing result) in the room, once per key where findable."""
        ...


@dataclass(frozen=True)
class PlatformPlugin:
    """A registered chat platform: `chat_for(org)` is None when the org has no workspace/tenant bound."""

    name: str  # the platform id used in state.rooms, delivery keys and people ids (`slack:U1`)
    label: str  # names its subscribers (`SlackRoomKeeper`): outbox delivery state is keyed by them
    chat_for: Callable[[str], ChatPlatform | None]
    extra: Mapping[str, Sequence[Subscriber]] = field(default_factory=dict)  # platform-only topics
    subscriber_names: Mapping[str, str] = field(default_factory=dict)  # role → a name kept from before

    def subscriber_name(self, role: str) -> str:
        """The stable outbox name of this platform's subscriber for a role (`RoomKeeper` → `SlackRoomKeeper`)."""
        return self.subscriber_names.get(role, f"{self.label}{role}")


class Platforms:
    """The registry: plugins in registration order, one per name."""

    def __init__(self, plugins: Sequence[PlatformPlugin] = ()) -> None:
        self._plugins: dict[str, PlatformPlugin] = {}
        for plugin in plugins:
            self.register(plugin)

    def register(self, plugin: PlatformPlugin) -> None:
        """Add a platform; registering a name twice is a wiring mistake."""
        if plugin.name in self._plugins:
            raise ValueError(f"chat platform {plugin.name!r} is registered twice")
        self._plugins[plugin.name] = plugin

    def __iter__(self) -> Iterator[PlatformPlugin]:
        return iter(self._plugins.values())

    def __len__(self) -> int:
        return len(self._plugins)

    def names(self) -> list[str]:
        return list(self._plugins)
