"""Timeline capture in incident threads: replies, edits, deletions and reactions.

Every capture carries an idempotency key made from the activity id, so a redelivered activity
(Teams retries when the bot answers slowly) is absorbed by the event store and recorded once.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.schema import MessageReaction

from handlers.teams.activity import activity_key, actor_of, tenant_in, thread_root
from handlers.teams.ids import PLATFORM
from handlers.teams.services import TeamsServices
from handlers.teams.text import clean
from incident_core import commands as cmd
from incident_core import usecases as uc
from incident_core.errors import IncidentError

# One emoji vocabulary on the timeline: Teams' reaction names become the Slack short names.
REACTIONS = {"like": "+1", "heart": "heart", "laugh": "laughing", "surprised": "open_mouth", "sad": "cry",
             "angry": "angry", "📌": "pushpin", "pushpin": "pushpin", "1f4cc_pushpin": "pushpin"}
_AT = re.compile(r"<at[^>]*>(.*?)</at>", re.IGNORECASE)

Build = Callable[[dict[str, Any]], cmd.Command]


def plain(text: str | None) -> str:
    """Message text as people read it: `<at>Name</at>` → `@Name`, other markup dropped."""
    return clean(_AT.sub(r"@\1", text or ""))


def emoji_of(reaction_type: str | None) -> str:
    """The timeline's name for a Teams reaction."""
    raw = (reaction_type or "").strip()
    return REACTIONS.get(raw.lower(), REACTIONS.get(raw, raw))


async def capture_message(services: TeamsServices, context: TurnContext) -> None:
    """A message in an incident thread (not addressed to the bot) goes on the timeline."""
    a = context.activity
    text = plain(a.text)
    if not text:
        return
    room = a.conversation.id
    await _capture(services, context, "msg", lambda base: cmd.CaptureMessage(
        **base, platform=PLATFORM, channel=room, message_id=str(a.id), author=actor_of(a.from_property),
        text=text, thread_id=thread_root(room) or a.reply_to_id))


async def capture_edit(services: TeamsServices, context: TurnContext) -> None:
    """An edited message in an incident thread."""
    a = context.activity
    await _capture(services, context, "edit", lambda base: cmd.CaptureEdit(
        **base, platform=PLATFORM, channel=a.conversation.id, message_id=str(a.id), text=plain(a.text)))


async def capture_deletion(services: TeamsServices, context: TurnContext) -> None:
    """A (soft-)deleted message in an incident thread."""
    a = context.activity
    await _capture(services, context, "delete", lambda base: cmd.CaptureDeletion(
        **base, platform=PLATFORM, channel=a.conversation.id, message_id=str(a.id)))


async def capture_reactions(services: TeamsServices, context: TurnContext, reactions: list[MessageReaction],
                            *, removed: bool) -> None:
    """Reactions added to (or removed from) a message of an incident thread; 📌 marks a key moment."""
    a = context.activity
    for i, reaction in enumerate(reactions or []):
        await _capture(services, context, f"reaction{i}", _reaction(a.reply_to_id, emoji_of(reaction.type),
                                                                    actor_of(a.from_property), removed))


def _reaction(message_id: str | None, emoji: str, user: str, removed: bool) -> Build:
    def build(base: dict[str, Any]) -> cmd.Command:
        return cmd.CaptureReaction(**base, platform=PLATFORM, message_id=str(message_id or ""), emoji=emoji,
                                   user=user, removed=removed)

    return build


async def _capture(services: TeamsServices, context: TurnContext, kind: str, build: Build) -> None:
    a = context.activity
    if a.conversation is None or not a.conversation.id or a.from_property is None:
        return
    org_id, room, key = tenant_in(context).org_id, a.conversation.id, activity_key(kind, a)

    def work() -> None:
        incident = services.queries.by_room(org_id, PLATFORM, room)
        if incident is None:
            return  # not an incident thread: nothing to record
        base = {"org_id": org_id, "incident_id": incident.incident_id, "actor": actor_of(a.from_property),
                "occurred_at": services.deps.clock.now(), "meta": {"platform": PLATFORM, "channel": room}}
        try:
            uc.apply_command(deps=services.deps, command=build(base), check_role=False, idempotency_key=key)
        except IncidentError:
            return  # e.g. a closed incident's thread keeps talking; nothing more to record

    await asyncio.to_thread(work)
