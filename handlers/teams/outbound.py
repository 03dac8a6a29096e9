"""TeamsChat: the chat port over the Bot Connector — a room is a thread in the incident channel.

The port is synchronous (the outbox calls it from worker threads); each call runs its botbuilder
coroutine to completion with `run` (asyncio.run by default), so never call it from an event loop.
A failed connector call raises, and the outbox retries the message with backoff.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, TypeVar

from botbuilder.core import CloudAdapterBase, TurnContext
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    ChannelAccount,
    ConversationParameters,
    ConversationReference,
)
from botbuilder.schema.teams import ChannelInfo, TeamsChannelData, TenantInfo
from botframework.connector import Channels
from botframework.connector.aio import ConnectorClient
from botframework.connector.models import ErrorResponseException

from handlers.teams import cards
from handlers.teams.activity import reference_tenant, thread_root
from handlers.teams.guidance_cards import guidance_card, guidance_text
from handlers.teams.ids import PLATFORM
from handlers.teams.mentions import mentionable, message_activity, people_in_view
from handlers.teams.people import PeopleStore, people_in
from handlers.teams.references import ConversationStore
from handlers.teams.roster import Roster
from incident_core import richtext as rt
from incident_core.delivery import Steps
from incident_core.errors import NotFound
from incident_core.guidance import Guidance
from incident_core.rooms import OpenedRoom, RoomPlan
from incident_core.services.platforms import Posted, RoomGone, RoomRef
from incident_core.state import IncidentState
from incident_core.warroom import WarRoom

T = TypeVar("T")
log = logging.getLogger("revenant.teams")
THREAD, LINKS, INVITED, ANNOUNCED = "thread", "links", "invited", "announced"
MAX_NAMED = 20  # people named in the opening reply; a thread has no membership to add them to
Runner = Callable[[Coroutine[Any, Any, Any]], Any]
# The Bot Connector's answers meaning the thread takes no more posts from the bot; a retry gets the same answer.
ROOM_GONE = {
    "ConversationNotFound": "the conversation is gone (its channel was deleted)",
    "BotNotInConversationRoster": "the bot is no longer in the team (install the app there again to post)",
}


def gone_reason(exc: ErrorResponseException) -> str | None:
    """Why the conversation takes no more posts, when the connector's error code says so; else None."""
    error = getattr(getattr(exc, "error", None), "error", None)
    return ROOM_GONE.get(str(getattr(error, "code", "")))


def unless_gone(post: Callable[[], str]) -> str:
    """`post()`, with RoomGone when the conversation takes no more posts (deleted, the bot removed)."""
    try:
        return post()
    except ErrorResponseException as exc:
        reason = gone_reason(exc)
        if reason:
            raise RoomGone(reason) from exc
        raise


def card_activity(view: WarRoom, names: Mapping[str, str] | None = None,
                  accounts: Mapping[str, tuple[str, str]] | None = None) -> Activity:
    """The war-room message: the card (its known people @mentioned) plus notification text."""
    return Activity(type=ActivityTypes.message, text=cards.fallback_text(view),
                    attachments=[cards.attachment(cards.war_room(view, names, accounts))])


class TeamsChat:
    """ChatPlatform for Teams, for one org: opens threads, updates the war-room card in place, posts replies
    (people whose Teams account `people` knows, or `roster` finds, are @mentioned in them and in the war-room card)."""

    platform = PLATFORM

    def __init__(self, adapter: CloudAdapterBase, *, app_id: str, org_id: str, store: ConversationStore,
                 channel_for: Callable[[IncidentState], str | None],
                 names: Callable[[], Mapping[str, str]] = dict, run: Runner = asyncio.run,
                 people: PeopleStore | None = None, roster: Roster | None = None) -> None:
        self.adapter, self.app_id, self.org_id, self.store = adapter, app_id, org_id, store
        self.channel_for, self.names, self.run, self.people, self.roster = channel_for, names, run, people, roster

    def open_room(self, state: IncidentState, view: WarRoom, plan: RoomPlan, steps: Steps) -> OpenedRoom:
        """Start a thread in the incident channel with the war-room card, post its links, announce it: each
        step recorded, and the thread looked for among the stored conversations before one is started.

        The Bot Connector cannot read a channel back, so a thread whose creation answer never arrived
        cannot be found; the claim and the step recorded right after the answer keep that window to
        the one call.
        """
        name = f"{view.human_id}: {view.title}"[:200]
        thread = steps.once(THREAD, lambda: self._start_thread(state, view), lambda: self._found_thread(state))
        thread_id = str(thread["id"])
        links = [rt.inline(f"{rt.one_line(title, 70)} ", rt.link(url)) for title, url in plan.links[:20] if rt.link(url)]
        if links:
            steps.once(LINKS, lambda: {"id": self.post(thread_id, rt.doc(rt.para("Links: ", rt.join(links, " · "))))})
        people = [p for p in plan.invitees if p.startswith(f"{PLATFORM}:")][:MAX_NAMED]
        if people:  # a thread has no members to add: the plan's people are @mentioned in it (named when unknown)
            steps.once(INVITED, lambda: {"id": self.post(thread_id, rt.doc(rt.para(
                rt.emoji("bell"), " On this incident: ", rt.join([rt.mention(p) for p in people], ", "))))})
        if plan.announce_to:
            announce_to = plan.announce_to
            announcement = message_activity(rt.doc(rt.para(
                rt.emoji("rotating_light"), " ", rt.b(view.human_id),
                f" {view.severity.value} — {rt.one_line(view.title, 300)}. Follow its thread in the incident channel.")))
            steps.once(ANNOUNCED, lambda: {"id": self.run(self._new_thread(announce_to, announcement))[1] or ""})
        return OpenedRoom(room_id=thread_id, name=name, message_id=str(thread.get("message_id") or thread_root(thread_id)))

    def cannot_open(self, state: IncidentState) -> str | None:
        """A thread needs an incident channel (docs/teams.md, Rooms)."""
        if self.channel_for(state) is None:
            return f"{state.human_id} has no Teams incident channel yet; `revenant teams channel` sets one"
        return None

    def post_guidance(self, state: IncidentState, room: RoomRef, guidance: Guidance, *, trigger: str,
                      batch_id: str) -> Posted:
        """The suggestions card as a reply in the incident's thread."""
        card = guidance_card(state.human_id, state.incident_id, guidance, trigger)
        return {"id": unless_gone(lambda: self.post_card(room.room_id, card, guidance_text(state.human_id, guidance)))}

    def post_notice(self, state: IncidentState, room: RoomRef, content: rt.Rich, *, key: str,
                    snooze: str | None) -> Posted:
        """The notice as a reply in the incident's thread (the Bot Connector cannot read a thread back, so the
        claimed, recorded delivery is what keeps it to one)."""
        return {"id": unless_gone(lambda: self.post(room.room_id, content))}

    def _found_thread(self, state: IncidentState) -> dict[str, Any] | None:
        """The incident's thread as an earlier attempt stored it (the conversation store remembers it)."""
        existing = self.store.incident_thread(self.org_id, state.incident_id)
        if existing is None:
            return None
        thread_id = str(existing["conversation"]["id"])
        return {"id": thread_id, "message_id": thread_root(thread_id)}

    def _start_thread(self, state: IncidentState, view: WarRoom) -> dict[str, Any]:
        channel = self.channel_for(state)
        if not channel:
            raise NotFound(f"no Teams incident channel for {state.human_id}: run `revenant teams channel ORG "
                           "CHANNEL_ID` (optionally `--project NAME`)")
        accounts = self._opening_accounts(channel, people_in_view(view))
        reference, message_id = self.run(self._new_thread(channel, card_activity(view, self.names(), accounts)))
        self.store.remember(self.org_id, reference, kind="channel", tenant_id=reference_tenant(reference), team_id=None,
                            channel_id=channel, incident_id=state.incident_id)
        thread_id = str(reference["conversation"]["id"])
        return {"id": thread_id, "message_id": message_id or thread_root(thread_id)}

    def refresh(self, room_id: str, message_id: str, view: WarRoom) -> None:
        """Replace the war-room card in place; a conversation that is gone keeps its last card (done, not retried)."""
        reference = self._reference(room_id)
        wanted = people_in_view(view)
        tenant = self._tenant(reference) if wanted else None

        async def update(client: ConnectorClient, conversation_id: str) -> str:
            accounts = await self._accounts(client, conversation_id, tenant, wanted)
            activity = card_activity(view, self.names(), accounts)
            activity.id = message_id
            await client.conversations.update_activity(conversation_id, message_id, activity)
            return message_id

        try:
            unless_gone(lambda: str(self.run(self._with_client(reference, update))))
        except RoomGone as gone:
            log.info("war room of %s not refreshed: %s (conversation %s)", view.human_id, gone, room_id)

    def post(self, room_id: str, content: rt.Rich, *, thread_id: str | None = None) -> str:
        """Post a reply in the incident's thread (Teams threads do not nest, so `thread_id` changes nothing);
        people known in the thread's tenant (or found in its roster) are @mentioned."""
        reference = self._reference(room_id)
        wanted = people_in(content)
        tenant = self._tenant(reference) if wanted else None

        async def send(client: ConnectorClient, conversation_id: str) -> str:
            accounts = await self._accounts(client, conversation_id, tenant, wanted)
            activity = message_activity(content, self.names(), accounts)
            sent = await client.conversations.send_to_conversation(conversation_id, activity)
            return str(sent.id or "")

        return str(self.run(self._with_client(reference, send)))

    def post_card(self, room_id: str, content: dict[str, Any], text: str) -> str:
        """Post an Adaptive Card as a reply in the incident's thread (guidance, for one); returns its id."""
        activity = Activity(type=ActivityTypes.message, text=text, attachments=[cards.attachment(content)])

        async def send(client: ConnectorClient, conversation_id: str) -> str:
            sent = await client.conversations.send_to_conversation(conversation_id, activity)
            return str(sent.id or "")

        return str(self.run(self._with_client(self._reference(room_id), send)))

    def post_to_channel(self, channel_id: str, content: dict[str, Any], text: str) -> str:
        """Start a new thread in a channel with an Adaptive Card (the weekly digest); returns the post's id."""
        activity = Activity(type=ActivityTypes.message, text=text, attachments=[cards.attachment(content)])
        _reference, message_id = self.run(self._new_thread(channel_id, activity))
        return str(message_id or "")

    def archive(self, room_id: str) -> None:
        """Teams threads cannot be archived by a bot: say so in the thread, which stays for the record."""
        self.post(room_id, rt.doc(rt.para(rt.emoji("lock"), " This incident is closed; the thread stays as its "
                                                                  "record.")))

    # --- internals ----------------------------------------------------------------------------

    async def _accounts(self, client: ConnectorClient, conversation_id: str, tenant: str | None,
                        wanted: set[str]) -> dict[str, tuple[str, str]]:
        """The wanted people's accounts: the store's, else the conversation's roster's (bounded, recorded)."""
        if not wanted:
            return {}
        return await mentionable(self.people, self.roster, client.conversations, conversation_id=conversation_id,
                                 org_id=self.org_id, tenant_id=tenant, wanted=wanted)

    def _opening_accounts(self, channel_id: str, wanted: set[str]) -> dict[str, tuple[str, str]]:
        """The accounts of the people on the opening card (the thread does not exist yet: the channel's roster)."""
        route = self.store.route_to_channel(self.org_id, channel_id) if wanted and self.people else None
        if route is None:
            return {}
        tenant = reference_tenant(route)

        async def lookup(client: ConnectorClient, _conversation_id: str) -> dict[str, tuple[str, str]]:
            return await self._accounts(client, channel_id, tenant, wanted)

        return dict(self.run(self._with_client(route, lookup)))

    def _tenant(self, reference: dict[str, Any]) -> str | None:
        """The conversation's tenant: its reference's, else the one stored with it or with its channel."""
        return reference_tenant(reference) or self.store.tenant(
            self.org_id, str((reference.get("conversation") or {}).get("id") or ""))

    def _reference(self, conversation_id: str) -> dict[str, Any]:
        found = self.store.reference(self.org_id, conversation_id)
        if found is None:
            raise NotFound(f"no stored Teams conversation {conversation_id!r}; the bot must be installed there")
        return found

    async def _with_client(self, reference: dict[str, Any],
                           fn: Callable[[ConnectorClient, str], Awaitable[T]]) -> T:
        ref = ConversationReference().deserialize(reference)
        box: dict[str, T] = {}

        async def logic(context: TurnContext) -> None:
            client = context.turn_state[context.adapter.BOT_CONNECTOR_CLIENT_KEY]
            box["value"] = await fn(client, ref.conversation.id)

        await self.adapter.continue_conversation(ref, logic, bot_app_id=self.app_id)
        return box["value"]

    async def _new_thread(self, channel_id: str, activity: Activity) -> tuple[dict[str, Any], str | None]:
        route = self.store.route_to_channel(self.org_id, channel_id)
        if route is None:
            raise NotFound("the bot has not received anything from this org's Teams tenant yet: install the app "
                           "in the team (or @mention it once) so it learns where to post")
        ref = ConversationReference().deserialize(route)
        tenant = reference_tenant(route)
        params = ConversationParameters(
            is_group=True, bot=ChannelAccount(id=f"28:{self.app_id}"), tenant_id=tenant, activity=activity,
            channel_data=TeamsChannelData(channel=ChannelInfo(id=channel_id), tenant=TenantInfo(id=tenant)))
        box: dict[str, Any] = {}

        async def created(context: TurnContext) -> None:
            box["reference"] = TurnContext.get_conversation_reference(context.activity).serialize()
            box["id"] = context.activity.id

        await self.adapter.create_conversation(self.app_id, created, params, Channels.ms_teams, ref.service_url, None)
        reference = dict(box["reference"])
        reference.pop("activityId", None)
        return reference, box.get("id")
