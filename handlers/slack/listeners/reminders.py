"""Reminder buttons: Snooze records who snoozed which reminder on the timeline (the scheduler reads it)."""

from __future__ import annotations

import asyncio
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond

from handlers.slack.errors import explain
from handlers.slack.ids import PostmortemId
from handlers.slack.mrkdwn import message
from handlers.slack.services import PLATFORM, SlackServices
from handlers.slack.values import button_object, pick
from incident_core import commands as cmd
from incident_core import richtext as rt
from incident_core import usecases as uc
from incident_core.errors import NotFound
from incident_core.reminders import SNOOZE_KIND, SNOOZE_NAME


def register(app: AsyncApp, services: SlackServices) -> None:
    async def ack_snooze(ack: AsyncAck) -> None:
        await ack()

    async def on_snooze(body: dict[str, Any], action: dict[str, Any], context: AsyncBoltContext,
                        respond: AsyncRespond) -> None:
        user, org_id = body["user"]["id"], context["org_id"]

        def work() -> rt.Rich:
            value = button_object(action.get("value"))
            state = services.queries.get(org_id, pick(value, "i", str))
            if state is None:
                raise NotFound("that incident is not in this workspace's org")
            minutes = max(5, min(pick(value, "m", int, 30), 240))
            uc.apply_command(deps=services.deps, idempotency_key=f"slack:click:{action.get('action_ts')}:{user}",
                             command=cmd.CaptureInteraction(
                                 org_id=org_id, incident_id=state.incident_id, actor=f"{PLATFORM}:{user}",
                                 occurred_at=services.deps.clock.now(), platform=PLATFORM, kind=SNOOZE_KIND,
                                 name=SNOOZE_NAME, text=f"{pick(value, 'k', str, 'status_update')[:40]}:{minutes}"))
            return rt.doc(rt.para(rt.emoji("zzz"), " ", rt.Mention(f"slack:{user}", user),
                                  f" snoozed {state.human_id}'s status-update reminder for {minutes} min."))

        try:
            content = await asyncio.to_thread(work)
        except Exception as exc:  # noqa: BLE001
            await respond(response_type="ephemeral", replace_original=False, **message(explain(exc)))
            return
        await respond(response_type="in_channel", replace_original=True, **message(content))

    app.action(PostmortemId.REMINDER_SNOOZE)(ack=ack_snooze, lazy=[on_snooze])
