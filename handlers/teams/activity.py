"""Reading Teams activities: tenant, conversation kind, channel, thread, sender and idempotency keys."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.schema import Activity, ChannelAccount

from handlers.teams.ids import PLATFORM, TENANT_KEY

THREAD_MARK = ";messageid="


@dataclass(frozen=True)
class TeamsTenant:
    """What the tenant middleware puts into the turn state for known tenants."""

    org_id: str
    tenant_id: str


def tenant_in(context: TurnContext) -> TeamsTenant:
    """The resolved tenant of this turn (the middleware stops unknown tenants before handlers run)."""
    found = context.turn_state.get(TENANT_KEY)
    if not isinstance(found, TeamsTenant):
        raise RuntimeError("the Teams tenant middleware did not run before the handler")
    return found


def _data(activity: Activity) -> dict[str, Any]:
    return activity.channel_data if isinstance(activity.channel_data, dict) else {}


def tenant_of(activity: Activity) -> str | None:
    """The AAD tenant: channelData.tenant.id, else conversation.tenantId."""
    tenant = (_data(activity).get("tenant") or {}).get("id")
    conversation = activity.conversation
    if not tenant and conversation is not None:
        extra = getattr(conversation, "additional_properties", None) or {}
        tenant = conversation.tenant_id or extra.get("tenantId")
    return str(tenant) if tenant else None


def kind_of(activity: Activity) -> str:
    """`channel`, `groupChat` or `personal`."""
    conversation = activity.conversation
    kind = conversation.conversation_type if conversation is not None else None
    if kind:
        return str(kind)
    return "channel" if channel_of(activity) else "personal"


def channel_of(activity: Activity) -> str | None:
    """The Teams channel id of a channel conversation (or of the thread it is in)."""
    data = _data(activity)
    found = (data.get("channel") or {}).get("id") or data.get("teamsChannelId")
    if found:
        return str(found)
    return channel_in(activity.conversation.id if activity.conversation else "")


def channel_in(conversation_id: str) -> str | None:
    """The channel id of a channel or thread conversation id (`19:…`, without `;messageid=…`)."""
    return conversation_id.split(THREAD_MARK, 1)[0] if conversation_id.startswith("19:") else None


def team_of(activity: Activity) -> str | None:
    """The team id (the id of its General channel), when the conversation belongs to a team."""
    data = _data(activity)
    found = (data.get("team") or {}).get("id") or data.get("teamsTeamId")
    return str(found) if found else None


def thread_root(conversation_id: str) -> str | None:
    """The root message id of a channel thread (`…;messageid=123` → `123`)."""
    return conversation_id.split(THREAD_MARK, 1)[1] if THREAD_MARK in conversation_id else None


def user_id(account: ChannelAccount | None) -> str:
    """A person's id on the timeline: the Entra object id when Teams sends it, else the Teams user id."""
    if account is None:
        return ""
    return str(account.aad_object_id or account.id or "")


def actor_of(account: ChannelAccount | None) -> str:
    """`teams:<entra object id>`, the identity memberships and roles are keyed by."""
    return f"{PLATFORM}:{user_id(account)}"


def mentions(activity: Activity) -> list[dict[str, Any]]:
    """The mention entities of a message (`{"mentioned": {"id", "name"}, "text": "<at>…</at>"}`)."""
    found = []
    for entity in activity.entities or []:
        if (getattr(entity, "type", "") or "").lower() == "mention":
            found.append(dict(getattr(entity, "additional_properties", None) or {}))
    return found


def is_addressed(activity: Activity) -> bool:
    """A command for the bot: any 1:1 message, or a message that @mentions the bot."""
    if kind_of(activity) == "personal":
        return True
    bot_id = activity.recipient.id if activity.recipient else None
    return any((m.get("mentioned") or {}).get("id") == bot_id for m in mentions(activity))


def activity_key(kind: str, activity: Activity) -> str:
    """An idempotency key from the activity id: Teams redelivers the same id, and ids are unique per conversation."""
    conversation_id = activity.conversation.id if activity.conversation else ""
    digest = hashlib.sha256(f"{conversation_id}\n{activity.id}".encode()).hexdigest()[:16]
    return f"{PLATFORM}:{kind}:{str(activity.id)[:100]}:{digest}"


def reference_tenant(reference: dict[str, Any]) -> str | None:
    """The tenant id of a serialized conversation reference (botbuilder writes `tenantID`)."""
    conversation = reference.get("conversation") or {}
    found = conversation.get("tenantId") or conversation.get("tenantID")
    return str(found) if found else None


def stored_reference(activity: Activity) -> dict[str, Any]:
    """The conversation reference worth keeping for proactive posts (no activity id; no user outside 1:1)."""
    reference = TurnContext.get_conversation_reference(activity).serialize()
    reference.pop("activityId", None)
    if kind_of(activity) != "personal":
        reference.pop("user", None)
    return dict(reference)
