"""@Revenant commands: the same `/revenant` grammar and ChatService as Slack, answered in the conversation."""

from __future__ import annotations

import asyncio
import dataclasses
import logging

from botbuilder.core import MessageFactory, TurnContext
from botbuilder.core.teams import TeamsInfo

from handlers.teams import cards
from handlers.teams.activity import (
    activity_key,
    actor_of,
    channel_of,
    kind_of,
    mentions,
    tenant_in,
)
from handlers.teams.errors import explain
from handlers.teams.ids import PLATFORM, PM_VERBS
from handlers.teams.insights_cards import patterns_card
from handlers.teams.mentions import mentionable, message_activity
from handlers.teams.people import of_member, people_in
from handlers.teams.services import TeamsServices
from handlers.teams.text import command_text
from incident_core import richtext as rt
from incident_core.chat_commands import Intent, UsageError, parse
from incident_core.chat_service import Reply
from incident_core.patterns import PatternReport

log = logging.getLogger("revenant.teams")
NO_CHANNEL = rt.doc(rt.para("No Teams incident channel is set for this org, so its thread cannot open yet: declare "
                             "from a channel, or ask an admin to run ",
                             rt.code("revenant teams channel ORG CHANNEL_ID"), "."))


async def reply(context: TurnContext, content: rt.Rich, names: dict[str, str] | None = None,
                accounts: dict[str, tuple[str, str]] | None = None) -> None:
    """Answer in the conversation (in a channel thread: a reply in that thread), as Teams markdown; the people
    in `accounts` (person id → (`29:` id, name)) are @mentioned, everyone else is named."""
    await context.send_activity(message_activity(content, names, accounts))


async def accounts_in(services: TeamsServices, context: TurnContext, content: rt.Rich) -> dict[str, tuple[str, str]]:
    """The Teams accounts of the people the content mentions: known in the tenant, else found in this
    conversation's roster (bounded; recorded)."""
    wanted = people_in(content)
    if not wanted:
        return {}
    tenant = tenant_in(context)
    client = context.turn_state.get(context.adapter.BOT_CONNECTOR_CLIENT_KEY)
    return await mentionable(services.people, services.roster, getattr(client, "conversations", None),
                             conversation_id=context.activity.conversation.id, org_id=tenant.org_id,
                             tenant_id=tenant.tenant_id, wanted=wanted)


async def run_command(services: TeamsServices, context: TurnContext) -> None:
    """Parse, run through the ChatService, answer once (a redelivered activity is not answered twice)."""
    activity = context.activity
    tenant = tenant_in(context)
    bot_id = activity.recipient.id if activity.recipient else None
    text, people = command_text(activity.text, mentions(activity), bot_id)
    try:
        intent = parse(text)
    except UsageError as exc:
        await reply(context, rt.prefix(exc.content, rt.emoji("warning"), " "))
        return
    if intent.name == "declare" and not intent.title:
        await context.send_activity(MessageFactory.attachment(cards.attachment(cards.declare_form())))
        return
    actor = actor_of(activity.from_property)
    names = await asyncio.to_thread(services.names, tenant.org_id)
    if activity.from_property and activity.from_property.name:
        names[actor] = activity.from_property.name
    if intent.user and intent.user in people:
        intent, (person, name) = await _resolve_person(services, context, intent, people[intent.user])
        names[person] = name
    key = activity_key("cmd", activity)
    channel = channel_of(activity) if kind_of(activity) == "channel" else None
    if intent.name == "postmortem":
        await _postmortem(services, context, tenant.org_id, actor, names)
        return
    try:
        answer = await asyncio.to_thread(handle, services, tenant.org_id, actor, activity.conversation.id,
                                         channel, intent, key)
    except Exception as exc:  # noqa: BLE001 — one error handler shows it
        await reply(context, explain(exc), names)
        return
    if await asyncio.to_thread(services.first_answer, key):
        if isinstance(answer.report, PatternReport):
            await context.send_activity(MessageFactory.attachment(cards.attachment(patterns_card(answer.report))))
        else:
            await reply(context, answer.content, names, await accounts_in(services, context, answer.content))
    if answer.incident is not None:
        await services.incident_changed()


async def _postmortem(services: TeamsServices, context: TurnContext, org_id: str, actor: str,
                      names: dict[str, str]) -> None:
    """`@Revenant postmortem` in an incident thread: draft it if needed and post the review form."""
    from handlers.teams.postmortem_card import review_card
    from incident_core import postmortem_usecases as pmu

    chat = services.context(org_id, actor, context.activity.conversation.id)
    if chat.incident_id is None:
        await reply(context, rt.doc(rt.para(rt.emoji("warning"), " run ", rt.cmd("postmortem"),
                                            " in the incident's thread")))
        return
    try:
        view = await asyncio.to_thread(lambda: pmu.draft_postmortem(
            deps=services.deps, queries=services.queries, org_id=org_id, incident_id=chat.incident_id or "",
            actor=actor))
    except Exception as exc:  # noqa: BLE001 — one error handler shows it
        await reply(context, explain(exc), names)
        return
    await context.send_activity(MessageFactory.attachment(cards.attachment(review_card(view, PM_VERBS))))


def handle(services: TeamsServices, org_id: str, actor: str, conversation_id: str, channel: str | None,
           intent: Intent, key: str) -> Reply:
    """Run one intent; a declaration in a channel is filed under that channel's project and remembers it."""
    context = services.context(org_id, actor, conversation_id)
    if intent.name == "patterns" and context.incident_id is None:  # a project's channel: that project's patterns
        context = dataclasses.replace(context, project_id=services.project_for_channel(org_id, channel))
    if intent.name != "declare":
        return services.chat.handle(intent, context, idempotency_key=key)
    project_id = services.project_for_channel(org_id, channel)
    if channel:
        services.store.note_declare_origin(org_id, actor, channel)
    answer = services.chat.handle(intent, context, project_id=project_id, idempotency_key=key)
    if answer.incident is not None and not channel and not services.incident_channel(org_id):
        answer = dataclasses.replace(answer, content=answer.content + NO_CHANNEL)
    return answer


async def _resolve_person(services: TeamsServices, context: TurnContext, intent: Intent,
                          mentioned: dict) -> tuple[Intent, tuple[str, str]]:
    """`@m1` → `teams:<entra object id>` of the mentioned person (asked of Teams; falls back to the Teams id).
    The roster's answer is noted, so the person can be @mentioned from now on."""
    member_id = str(mentioned.get("id") or "")
    name = str(mentioned.get("name") or member_id)
    ident = str(mentioned.get("aadObjectId") or member_id)
    try:
        member = await TeamsInfo.get_member(context, member_id)
    except Exception as exc:  # noqa: BLE001 — outside a team or chat roster lookups fail; the Teams id still works
        log.info("could not look up Teams member %s: %s", member_id, exc)
    else:
        ident = str(member.aad_object_id or ident)
        found = of_member(member)
        if found is not None and services.people is not None:
            tenant = tenant_in(context)
            await asyncio.to_thread(services.people.note, tenant.org_id, tenant.tenant_id, [found])
    qualified = f"{PLATFORM}:{ident}"
    return dataclasses.replace(intent, user=qualified), (qualified, name)
