"""Finishing a Teams activity that another process acknowledged and then died on (taken over after its lease).

The clicker's HTTP request is gone with that process, so an Action.Execute's answer card (an action's
outcome, a postmortem step) reaches no one: Teams keeps showing the card with its old buttons. Once the
taken-over click has run, the card message it was clicked on is replaced with the answer card for
everyone, through the Bot Connector.
"""

from __future__ import annotations

from typing import Any

from botbuilder.core import CloudAdapterBase, InvokeResponse, TurnContext
from botbuilder.schema import Activity, ActivityTypes

from handlers.teams import cards


def answer_card(activity: Activity, response: InvokeResponse | None) -> dict[str, Any] | None:
    """The Adaptive Card an Action.Execute invoke answered with, if it answered with one."""
    if activity.type != ActivityTypes.invoke or activity.name != "adaptiveCard/action" or response is None:
        return None
    body = response.body
    if not isinstance(body, dict) or body.get("type") != cards.CONTENT_TYPE or not isinstance(body.get("value"), dict):
        return None
    return dict(body["value"])


async def show_answer(adapter: CloudAdapterBase, app_id: str, activity: Activity,
                      response: InvokeResponse | None) -> bool:
    """Replace the clicked card with the invoke's answer card; True when there was one to show."""
    card = answer_card(activity, response)
    if card is None or not activity.reply_to_id:
        return False
    replacement = Activity(type=ActivityTypes.message, id=activity.reply_to_id,
                           attachments=[cards.attachment(card)])

    async def update(context: TurnContext) -> None:
        await context.update_activity(replacement)

    await adapter.continue_conversation(TurnContext.get_conversation_reference(activity), update, app_id)
    return True
