"""War-room buttons: status and severity, with the same rules as the slash commands."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond

from handlers.slack.errors import explain
from handlers.slack.ids import ActionId
from handlers.slack.services import SlackServices
from handlers.slack.values import button_object, pick
from incident_core import usecases as uc
from incident_core.errors import NotFound
from incident_core.model import Severity, Status


def register(app: AsyncApp, services: SlackServices) -> None:
    async def ack_click(ack: AsyncAck) -> None:
        await ack()

    async def on_click(body: dict[str, Any], action: dict[str, Any], context: AsyncBoltContext,
                       respond: AsyncRespond) -> None:
        user = body["user"]["id"]
        org_id = context["org_id"]

        def work() -> str:
            value = button_object(action.get("value"))
            incident = services.queries.get(org_id, pick(value, "i", str))
            if incident is None:
                raise NotFound("that incident is not in this workspace's org")
            key = f"slack:click:{action.get('action_ts')}:{user}"
            base = {"deps": services.deps, "org_id": org_id, "incident_id": incident.incident_id,
                    "actor": f"slack:{user}", "idempotency_key": key}
            if action["action_id"].startswith(ActionId.SET_STATUS):
                state = uc.change_status(**base, status=pick(value, "s", Status), note="via war-room button").state
                return f"<@{user}> set {state.human_id} to *{state.status.value}*"
            state = uc.change_severity(**base, severity=pick(value, "v", Severity)).state
            return f"<@{user}> set {state.human_id} to *{state.severity.value}*"

        try:
            text = await asyncio.to_thread(work)
        except Exception as exc:  # noqa: BLE001
            await respond(response_type="ephemeral", replace_original=False, text=explain(exc))
            return
        await respond(response_type="in_channel", replace_original=False, text=text)
        await services.incident_changed()

    for prefix in (ActionId.SET_STATUS, ActionId.SET_SEVERITY):
        app.action(re.compile(f"^{prefix}_"))(ack=ack_click, lazy=[on_click])
