"""Finding what an earlier attempt already made in Slack, so a retried delivery never makes it twice.

Messages we post carry Slack message metadata (`event_type` names what the message is, `event_payload`
which incident it belongs to); conversations.history returns it with include_all_metadata=true. A
retry whose first post was answered too late (the client had timed out) finds that post here instead
of posting again.
"""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

WAR_ROOM = "revenant_war_room"
ANNOUNCEMENT = "revenant_room_announced"
NOTICE = "revenant_notice"
GUIDANCE = "revenant_guidance"
UNREADABLE = ("not_in_channel", "channel_not_found", "missing_scope")
HISTORY_PAGES = 3  # 3 × 200 messages: a retry comes within minutes of the lost post


def metadata(event_type: str, **payload: str) -> dict[str, Any]:
    """Slack message metadata marking a message we post (what it is, and whose it is)."""
    return {"event_type": event_type, "event_payload": payload}


def _matches(message: dict[str, Any], event_type: str, payload: dict[str, str]) -> bool:
    meta = message.get("metadata") or {}
    found = meta.get("event_payload") or {}
    return meta.get("event_type") == event_type and all(found.get(k) == v for k, v in payload.items())


def find_posted(client: WebClient, channel: str, event_type: str, *, thread_ts: str | None = None,
                **payload: str) -> str | None:
    """The ts of a message in `channel` (or in the thread `thread_ts`) carrying this metadata, else None.

    A channel the bot cannot read (it posts there with chat:write.public) has nothing to find.
    """
    cursor = None
    for _ in range(HISTORY_PAGES):
        try:
            if thread_ts:
                page = client.conversations_replies(channel=channel, ts=thread_ts, limit=200, cursor=cursor,
                                                    include_all_metadata=True)
            else:
                page = client.conversations_history(channel=channel, limit=200, cursor=cursor,
                                                    include_all_metadata=True)
        except SlackApiError as exc:
            if exc.response.get("error") in UNREADABLE:
                return None
            raise
        for message in page.get("messages") or []:
            if _matches(message, event_type, payload):
                return str(message["ts"])
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return None
    return None


def post_once(client: WebClient, channel: str, event_type: str, marker: dict[str, str], *,
              thread_ts: str | None = None, look: bool = True, **message: Any) -> str:
    """Post unless a message with this metadata is already there; returns the ts either way. `look=False`
    posts without looking: only for a caller that knows no attempt can have posted it."""
    found = find_posted(client, channel, event_type, thread_ts=thread_ts, **marker) if look else None
    if found:
        return found
    posted = client.chat_postMessage(channel=channel, thread_ts=thread_ts, metadata=metadata(event_type, **marker),
                                     **message)
    return str(posted["ts"])


def pin_once(client: WebClient, channel: str, ts: str, *, look: bool = True) -> dict[str, str]:
    """Pin the message unless it is pinned (pins.list first unless `look=False`; `already_pinned` is success)."""
    pinned = (client.pins_list(channel=channel).get("items") or []) if look else []
    if not any((item.get("message") or {}).get("ts") == ts for item in pinned):
        try:
            client.pins_add(channel=channel, timestamp=ts)
        except SlackApiError as exc:
            if exc.response.get("error") != "already_pinned":
                raise
    return {"ts": ts}
