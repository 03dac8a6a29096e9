"""The declare modal's submission: validated in the ack, then the incident is declared in a lazy listener."""

from __future__ import annotations

import asyncio
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from handlers.slack.errors import explain
from handlers.slack.ids import BlockId, CallbackId, InputId
from handlers.slack.mrkdwn import message
from handlers.slack.services import SlackServices
from incident_core.chat_commands import Intent
from incident_core.model import Severity


def _value(view: dict[str, Any], block: str) -> Any:
    element = view.get("state", {}).get("values", {}).get(block, {}).get(InputId.VALUE, {})
    if "selected_option" in element:
        return (element["selected_option"] or {}).get("value")
    return element.get("value")


def _errors(view: dict[str, Any]) -> dict[str, str]:
    title = (_value(view, BlockId.DECLARE_TITLE) or "").strip()
    errors: dict[str, str] = {}
    if not title:
        errors[BlockId.DECLARE_TITLE] = "Give the incident a short title."
    elif len(title) > 150:
        errors[BlockId.DECLARE_TITLE] = "Keep the title under 150 characters."
    if (_value(view, BlockId.DECLARE_SEVERITY) or "SEV3") not in {s.value for s in Severity}:
        errors[BlockId.DECLARE_SEVERITY] = "Pick SEV1–SEV4."
    return errors


def register(app: AsyncApp, services: SlackServices) -> None:
    async def check_declare(ack: AsyncAck, view: dict[str, Any]) -> None:
        errors = _errors(view)
        await (ack(response_action="errors", errors=errors) if errors else ack())

    async def on_declare(body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext,
                         client: AsyncWebClient) -> None:
        if _errors(view):
            return  # answered in the ack
        title = (_value(view, BlockId.DECLARE_TITLE) or "").strip()
        severity = _value(view, BlockId.DECLARE_SEVERITY) or "SEV3"
        user = body["user"]["id"]
        ctx = await asyncio.to_thread(services.context, context["org_id"], user, None)
        try:
            reply = await asyncio.to_thread(services.chat.handle, Intent("declare", title=title,
                                                                          severity=Severity(severity)), ctx,
                                            idempotency_key=f"slack:view:{view.get('id')}")
        except Exception as exc:  # noqa: BLE001
            await client.chat_postMessage(channel=user, **message(explain(exc)))
            return
        await client.chat_postMessage(channel=user, **message(reply.content))
        await services.incident_changed()

    app.view(CallbackId.DECLARE)(ack=check_declare, lazy=[on_declare])
