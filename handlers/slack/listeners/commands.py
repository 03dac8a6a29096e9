"""/revenant: parse and ack within 3 s; the work runs in a lazy listener and answers by response_url."""

from __future__ import annotations

import asyncio
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from handlers.slack import blocks
from handlers.slack.errors import explain
from handlers.slack.ids import COMMAND
from handlers.slack.incoming import mentioned, plain_text
from handlers.slack.insights_blocks import patterns_blocks
from handlers.slack.mrkdwn import USER_ID, message
from handlers.slack.services import SlackServices
from incident_core import richtext as rt
from incident_core.chat_commands import UsageError, parse
from incident_core.chat_service import Reply
from incident_core.patterns import PatternReport


def require_mentioned(user: str, mentioned_ids: set[str]) -> None:
    """A person named by a Slack user id must have come as a mention Slack wrote, or nobody is mentioned."""
    if USER_ID.match(user) and user not in mentioned_ids:  # a plain name (`@dana`) is shown as text
        raise UsageError(rt.doc(rt.para("nobody with that id is in this workspace: name the person with an "
                                        "@mention, e.g. ", rt.cmd("role scribe @dana"))))


def register(app: AsyncApp, services: SlackServices) -> None:
    async def ack_command(ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient) -> None:
        try:
            intent = parse(plain_text(command.get("text")))
        except UsageError as exc:
            await ack(response_type="ephemeral", **message(explain(exc)))
            return
        await ack()
        if intent.name == "declare" and not intent.title:  # the trigger id is only good for 3 s
            await client.views_open(trigger_id=command["trigger_id"],
                                    view=blocks.declare_modal(command.get("channel_id")))

    async def run_command(command: dict[str, Any], context: AsyncBoltContext, respond: AsyncRespond,
                          client: AsyncWebClient) -> None:
        try:
            intent = parse(plain_text(command.get("text")))
        except UsageError:
            return  # already answered in the ack
        if intent.name == "declare" and not intent.title:
            return  # the ack opened the form
        try:
            ctx = await asyncio.to_thread(services.context, context["org_id"], command["user_id"],
                                          command.get("channel_id"))
            if intent.name == "role" and intent.user:
                require_mentioned(intent.user, mentioned(command.get("text")))
            reply: Reply = await asyncio.to_thread(services.chat.handle, intent, ctx,
                                                   idempotency_key=f"slack:cmd:{command.get('trigger_id')}")
        except Exception as exc:  # noqa: BLE001 — one error handler shows it
            await respond(response_type="ephemeral", **message(explain(exc)))
            return
        if isinstance(reply.report, PatternReport):
            await respond(response_type="ephemeral", text=message(reply.content)["text"],
                          blocks=patterns_blocks(reply.report))
        else:
            await respond(response_type="in_channel" if reply.in_channel else "ephemeral", **message(reply.content))
        if reply.incident is not None:
            await services.incident_changed()

    app.command(COMMAND)(ack=ack_command, lazy=[run_command])
