"""App Home: the org's open incidents, published when the person opens the tab."""

from __future__ import annotations

import asyncio
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from handlers.slack import blocks
from handlers.slack.services import SlackServices


def register(app: AsyncApp, services: SlackServices) -> None:
    async def on_home(event: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient) -> None:
        if event.get("tab", "home") != "home":
            return
        items = await asyncio.to_thread(services.queries.list_incidents, context["org_id"], open_only=True)
        await client.views_publish(user_id=event["user"], view=blocks.home(items))

    async def ack_event(ack: AsyncAck) -> None:
        await ack()

    app.event("app_home_opened")(ack=ack_event, lazy=[on_home])
