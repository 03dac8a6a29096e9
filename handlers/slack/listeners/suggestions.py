"""👍/👎 on a suggestion: recorded as SuggestionFeedbackGiven; later guidance for the org ranks its source by it."""

from __future__ import annotations

import asyncio
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond

from handlers.slack import suggestion_blocks as sb
from handlers.slack.errors import explain
from handlers.slack.ids import ActionId
from handlers.slack.mrkdwn import message
from handlers.slack.services import PLATFORM, SlackServices
from incident_core import richtext as rt
from incident_core.errors import NotFound
from incident_core.guidance_usecases import give_feedback


def feedback(services: SlackServices, org_id: str, user: str, action: dict[str, Any]) -> rt.Rich:
    """Record the vote; returns the line shown to the voter."""
    helpful = action["action_id"] == ActionId.SUGGESTION_UP
    ref = sb.ButtonRef.parse(action.get("value"))
    incident = services.queries.get(org_id, ref.incident_id)
    if incident is None or not ref.suggestion_id:
        raise NotFound("that suggestion is not in this workspace's org")
    result = give_feedback(deps=services.deps, org_id=org_id, incident_id=incident.incident_id,
                           actor=f"{PLATFORM}:{user}", suggestion_id=ref.suggestion_id, helpful=helpful,
                           idempotency_key=f"slack:click:{action.get('action_ts')}:{user}")
    entry = result.state.suggestions.get(ref.suggestion_id)
    mark, direction = ("👍", "higher") if helpful else ("👎", "lower")
    title, source = (entry.title, entry.source) if entry else ("this step", "its source")
    return rt.doc(rt.para(f"{mark} Thanks — noted for “{title}”. Suggestions for this org "
                          "now rank ", rt.code(source), f" {direction}."))


def register(app: AsyncApp, services: SlackServices) -> None:
    """👍/👎 buttons: ack now, record the vote in a lazy listener."""

    async def ack_vote(ack: AsyncAck) -> None:
        await ack()

    async def on_vote(body: dict[str, Any], action: dict[str, Any], context: AsyncBoltContext,
                      respond: AsyncRespond) -> None:
        try:
            content = await asyncio.to_thread(feedback, services, context["org_id"], body["user"]["id"], action)
        except Exception as exc:  # noqa: BLE001
            content = explain(exc)
        await respond(response_type="ephemeral", replace_original=False, **message(content))

    for action_id in (ActionId.SUGGESTION_UP, ActionId.SUGGESTION_DOWN):
        app.action(action_id)(ack=ack_vote, lazy=[on_vote])
