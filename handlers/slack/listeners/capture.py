"""Timeline capture: messages (and thread replies, edits, deletions), reactions and joins in incident channels.

Every capture carries the Events API `event_id` as its idempotency key, so Slack's retries (which
arrive after 3 s even while the first delivery is still running) are absorbed by the event store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext

from handlers.slack.incoming import plain_text
from handlers.slack.services import PLATFORM, SlackServices
from incident_core import commands as cmd
from incident_core import usecases as uc
from incident_core.errors import IncidentError

IGNORED_SUBTYPES = {"bot_message", "channel_join", "channel_leave", "channel_topic", "channel_purpose",
                    "pinned_item", "unpinned_item", "bookmark_added"}


def register(app: AsyncApp, services: SlackServices) -> None:
    async def on_message(body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext) -> None:
        subtype = event.get("subtype")
        if subtype in IGNORED_SUBTYPES or event.get("bot_id"):
            return
        if subtype == "message_changed":
            msg = event.get("message", {})
            build: Callable[[dict[str, Any]], cmd.Command] = lambda base: cmd.CaptureEdit(**base, platform=PLATFORM, channel=event["channel"],  # noqa: E731
                                                 message_id=msg.get("ts", ""), text=plain_text(msg.get("text")))
            user = msg.get("user") or ""
        elif subtype == "message_deleted":
            build = lambda base: cmd.CaptureDeletion(**base, platform=PLATFORM, channel=event["channel"],  # noqa: E731
                                                     message_id=event.get("deleted_ts", ""))
            user = (event.get("previous_message") or {}).get("user") or ""
        else:
            user = event.get("user") or ""
            build = lambda base: cmd.CaptureMessage(  # noqa: E731
                **base, platform=PLATFORM, channel=event["channel"], message_id=event.get("ts", ""),
                author=f"{PLATFORM}:{user}", text=plain_text(event.get("text")), thread_id=event.get("thread_ts"))
        await _capture(services, context["org_id"], event.get("channel"), user, body, build)

    async def on_reaction(body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext) -> None:
        item = event.get("item") or {}
        removed = event.get("type") == "reaction_removed"
        user = event.get("user", "")
        await _capture(services, context["org_id"], item.get("channel"), user, body, lambda base: cmd.CaptureReaction(
            **base, platform=PLATFORM, message_id=item.get("ts", ""), emoji=event.get("reaction", ""),
            user=f"{PLATFORM}:{user}", removed=removed))

    async def on_join(body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext) -> None:
        user = event.get("user", "")
        if user and user == context.bot_user_id:
            return
        await _capture(services, context["org_id"], event.get("channel"), user, body,
                       lambda base: cmd.CaptureJoin(**base, platform=PLATFORM, user=f"{PLATFORM}:{user}"))

    async def ack_event(ack: AsyncAck) -> None:
        await ack()

    # Captured from the record of acknowledged requests (a lazy listener), never only from memory.
    app.event("message")(ack=ack_event, lazy=[on_message])
    app.event("reaction_added")(ack=ack_event, lazy=[on_reaction])
    app.event("reaction_removed")(ack=ack_event, lazy=[on_reaction])
    app.event("member_joined_channel")(ack=ack_event, lazy=[on_join])


async def _capture(services: SlackServices, org_id: str, channel: str | None, user: str, body: dict[str, Any],
                   build: Callable[[dict[str, Any]], cmd.Command]) -> None:
    if not channel or not user:
        return

    def work() -> None:
        incident = services.queries.by_room(org_id, PLATFORM, channel)
        if incident is None:
            return  # not an incident channel (or another org's channel id): nothing to record
        base = {"org_id": org_id, "incident_id": incident.incident_id, "actor": f"{PLATFORM}:{user}",
                "occurred_at": services.deps.clock.now(), "meta": {"platform": PLATFORM, "channel": channel}}
        try:
            uc.apply_command(deps=services.deps, command=build(base), check_role=False,
                             idempotency_key=f"slack:event:{body.get('event_id')}" if body.get("event_id") else None)
        except IncidentError:
            return  # e.g. a closed incident's channel keeps talking; nothing more to record

    await asyncio.to_thread(work)
