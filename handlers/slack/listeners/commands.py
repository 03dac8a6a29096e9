"""/revenant: parse and ack within 3 s; the work runs in a lazy listener and answers by response_url."""

from __future__ import annotations

import asyncio
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from handlers.slack import blocks
from handlers.slack.errors import explain
from handlers.slack.ids import COMMAND
from handlers.slack.insights_blocks import patterns_blocks
from handlers.slack.services import SlackServices
from incident_core.chat_commands import UsageError, parse
from incident_core.chat_service import Reply
from incident_core.patterns import PatternReport


def register(app: AsyncApp, services: SlackServices) -> None:
    async def ack_command(ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient) -> None:
        try:
            intent = parse(command.get("text", ""))
        except UsageError as exc:
            await ack(response_type="ephemeral", text=f":warning: {exc}")
            return
        await ack()
        if intent.name == "declare" and not intent.title:  # the trigger id is only good for 3 s
            await client.views_open(trigger_id=command["trigger_id"],
                                    view=blocks.declare_modal(command.get("channel_id")))

    async def run_command(command: dict[str, Any], context: AsyncBoltContext, respond: AsyncRespond,
                          client: AsyncWebClient) -> None:
        try:
            intent = parse(command.get("text", ""))
        except UsageError:
            return  # already answered in the ack
        if intent.name == "declare" and not intent.title:
            return  # the ack opened the form
        try:
            ctx = await asyncio.to_thread(services.context, context["org_id"], command["user_id"],
                                          command.get("channel_id"))
            reply: Reply = await asyncio.to_thread(services.chat.handle, intent, ctx,
                                                   idempotency_key=f"slack:cmd:{command.get('trigger_id')}")
        except Exception as exc:  # noqa: BLE001 — one error handler shows it
            await respond(response_type="ephemeral", text=explain(exc))
            return
        if isinstance(reply.content, PatternReport):
            await respond(response_type="ephemeral", text=reply.text, blocks=patterns_blocks(reply.content))
        else:
            await respond(response_type="in_channel" if reply.in_channel else "ephemeral", text=reply.text)
        if reply.incident is not None:
            await services.incident_changed()

    app.command(COMMAND)(ack=ack_command, lazy=[run_command])
