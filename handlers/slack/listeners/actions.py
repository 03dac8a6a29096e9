"""Run, confirm, approve, deny and undo buttons: acked at once, worked in a lazy listener (runs take ~1 s).

Every click goes through incident_core's action use cases, so the gates are the same as anywhere:
viewers are refused, medium needs a confirmation (the Run button's Slack dialog, or a Confirm
button), high needs a commander other than the requester. A click's idempotency key is its
`action_ts` and user, and a suggestion always requests the same action id, so a double click runs once.
"""

from __future__ import annotations

import asyncio
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from handlers.slack import suggestion_blocks as sb
from handlers.slack.errors import explain
from handlers.slack.ids import ActionId
from handlers.slack.mrkdwn import message
from handlers.slack.services import PLATFORM, SlackServices
from incident_core import action_usecases as au
from incident_core import richtext as rt
from incident_core.errors import NotFound, ValidationError
from incident_core.guidance_usecases import run_suggestion
from incident_core.state import IncidentState

HANDLED = (ActionId.SUGGESTION_RUN, ActionId.ACTION_CONFIRM, ActionId.ACTION_APPROVE, ActionId.ACTION_DENY,
           ActionId.ACTION_UNDO)
DECISIONS = (ActionId.ACTION_CONFIRM, ActionId.ACTION_APPROVE, ActionId.ACTION_DENY)


def thread_of(state: IncidentState, body: dict[str, Any]) -> tuple[str, str | None]:
    """(channel, thread ts): the war-room message's thread, else the clicked message's own thread."""
    room = state.rooms.get(PLATFORM)
    if room and room.room_id:
        return room.room_id, room.message_id
    message = body.get("message") or {}
    return str((body.get("channel") or {}).get("id")), message.get("thread_ts") or message.get("ts")


def click(services: SlackServices, org_id: str, user: str, action: dict[str, Any]) -> tuple[au.ActionOutcome, Any]:
    """Apply one click through the action use cases; returns the outcome and the incident state."""
    kind = ActionId(action["action_id"])
    ref = sb.ButtonRef.parse(action.get("value"))
    incident = services.queries.get(org_id, ref.incident_id)
    if incident is None:
        raise NotFound("that incident is not in this workspace's org")
    if services.executor is None:
        raise ValidationError("playbook actions are not enabled in this deployment")
    actor, key = f"{PLATFORM}:{user}", f"slack:click:{action.get('action_ts')}:{user}"
    base: dict[str, Any] = {"deps": services.deps, "org_id": org_id, "incident_id": incident.incident_id, "actor": actor,
            "idempotency_key": key}
    if kind is ActionId.SUGGESTION_RUN:
        entry = incident.suggestions.get(ref.suggestion_id or "")
        # a medium-risk Run button carries Slack's confirm dialog, so its click is the confirmation
        return run_suggestion(**base, queries=services.queries, executor=services.executor,
                              suggestion_id=ref.suggestion_id or "", confirmed=bool(entry and entry.risk == "medium")), incident
    if not ref.action_id:
        raise ValidationError("that button names no action")
    if kind is ActionId.ACTION_CONFIRM:
        return au.confirm_action(**base, executor=services.executor, action_id=ref.action_id), incident
    if kind is ActionId.ACTION_APPROVE:
        return au.approve_action(**base, executor=services.executor, action_id=ref.action_id), incident
    if kind is ActionId.ACTION_DENY:
        return au.deny_action(**base, action_id=ref.action_id, reason="denied in Slack"), incident
    return au.undo_action(**base, executor=services.executor, action_id=ref.action_id), incident


def register(app: AsyncApp, services: SlackServices) -> None:
    """Run/Confirm/Approve/Deny/Undo buttons: ack now, work in a lazy listener."""

    async def ack_click(ack: AsyncAck) -> None:
        await ack()

    async def on_click(body: dict[str, Any], action: dict[str, Any], context: AsyncBoltContext,
                       respond: AsyncRespond, client: AsyncWebClient) -> None:
        user = body["user"]["id"]
        try:
            outcome, incident = await asyncio.to_thread(click, services, context["org_id"], user, action)
        except Exception as exc:  # noqa: BLE001 — one error handler explains refusals to the clicker only
            await respond(response_type="ephemeral", replace_original=False, **message(explain(exc)))
            return
        if outcome.duplicate:
            await respond(response_type="ephemeral", replace_original=False, **message(rt.doc(rt.para(
                f"{sb.badge(outcome.risk)} ", sb.outcome_name(outcome),
                f" was already requested ({outcome.status.value.replace('_', ' ')}); it runs once."))))
            return
        text, blocks = sb.outcome_message(outcome, incident.incident_id)
        if ActionId(action["action_id"]) in DECISIONS:  # the approval/confirmation card loses its buttons
            await respond(replace_original=True, text=text, blocks=blocks[:1])
        channel, thread = thread_of(incident, body)
        await client.chat_postMessage(channel=channel, thread_ts=thread, text=text, blocks=blocks)
        await services.incident_changed()

    for action_id in HANDLED:
        app.action(action_id)(ack=ack_click, lazy=[on_click])
