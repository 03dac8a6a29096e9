"""RevenantTeamsBot: routes each Teams activity to a command, a capture or an Action.Execute verb."""

from __future__ import annotations

from botbuilder.core import TurnContext
from botbuilder.core.teams import TeamsActivityHandler
from botbuilder.schema import AdaptiveCardInvokeResponse, AdaptiveCardInvokeValue, MessageReaction
from botbuilder.schema.teams import TeamInfo, TeamsChannelAccount

from handlers.teams.activity import is_addressed
from handlers.teams.capture import capture_deletion, capture_edit, capture_message, capture_reactions
from handlers.teams.commands import reply, run_command
from handlers.teams.ids import BOT_NAME
from handlers.teams.invokes import execute
from handlers.teams.services import TeamsServices
from incident_core import richtext as rt

WELCOME = rt.doc(rt.para(f"Hi, I am {BOT_NAME}, your incident copilot. ", rt.cmd("declare <title> [sev1-4]"),
                         " opens an incident with its own thread; ", rt.cmd("help"), " lists every command."))


class RevenantTeamsBot(TeamsActivityHandler):
    """Messages addressed to the bot are commands; other messages in incident threads are captured."""

    def __init__(self, services: TeamsServices) -> None:
        self.services = services

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        """A command when addressed to the bot, else a capture in an incident thread."""
        activity = turn_context.activity
        if activity.value is not None and not (activity.text or "").strip():
            return  # an Action.Submit from some other card: Revenant's cards use Action.Execute
        if is_addressed(activity):
            await run_command(self.services, turn_context)
        else:
            await capture_message(self.services, turn_context)

    async def on_teams_members_added(self, teams_members_added: list[TeamsChannelAccount], team_info: TeamInfo,
                                     turn_context: TurnContext) -> None:
        """Say hello when the app is installed in a team."""
        bot_id = turn_context.activity.recipient.id if turn_context.activity.recipient else None
        if any(member.id == bot_id for member in teams_members_added):
            await reply(turn_context, WELCOME)  # installed: the middleware already stored this conversation

    async def on_teams_message_edit(self, turn_context: TurnContext) -> None:
        """An edited message in an incident thread."""
        await capture_edit(self.services, turn_context)

    async def on_teams_message_soft_delete(self, turn_context: TurnContext) -> None:
        """A deleted message in an incident thread."""
        await capture_deletion(self.services, turn_context)

    async def on_reactions_added(self, message_reactions: list[MessageReaction], turn_context: TurnContext) -> None:
        """Reactions added to a message of an incident thread."""
        await capture_reactions(self.services, turn_context, message_reactions, removed=False)

    async def on_reactions_removed(self, message_reactions: list[MessageReaction],
                                   turn_context: TurnContext) -> None:
        """Reactions removed from a message of an incident thread."""
        await capture_reactions(self.services, turn_context, message_reactions, removed=True)

    async def on_adaptive_card_invoke(self, turn_context: TurnContext,
                                      invoke_value: AdaptiveCardInvokeValue) -> AdaptiveCardInvokeResponse | None:
        """An Action.Execute click."""
        return await execute(self.services, turn_context, invoke_value)
