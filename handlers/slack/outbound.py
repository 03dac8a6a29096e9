"""SlackChat: the chat port over the Slack Web API (sync client, run from worker threads)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from handlers.slack import blocks, once
from handlers.slack import suggestion_blocks as sb
from handlers.slack.mrkdwn import SlackText, cut, escape_plain
from handlers.slack.postmortem_blocks import notice_blocks
from incident_core import richtext as rt
from incident_core.delivery import Steps
from incident_core.guidance import Guidance
from incident_core.rooms import OpenedRoom, RoomPlan
from incident_core.services.platforms import Posted, RoomGone, RoomRef
from incident_core.state import IncidentState
from incident_core.warroom import WarRoom

MAX_NAME = 80
CHANNEL, TOPIC, PURPOSE, INVITED, BOOKMARKS = "channel", "topic", "purpose", "invited", "bookmarks"
MESSAGE, PIN, ANNOUNCED = "message", "pin", "announced"
_NOT_ALLOWED = re.compile(r"[^a-z0-9_-]+")

log = logging.getLogger("revenant.slack")

# Slack's answers meaning the channel takes no more posts from the bot; a retry minutes later gets the same answer.
# (With chat:write.public the bot posts to public channels it is not in, so not_in_channel means a private channel
# it was removed from, and channel_not_found one deleted, or private without the bot.)
ROOM_GONE = {
    "is_archived": "the channel is archived",
    "channel_not_found": "the channel is gone (deleted, or private without the bot in it)",
    "not_in_channel": "the bot is no longer in the channel (invite it back to post there)",
}


def gone_reason(exc: SlackApiError) -> str | None:
    """Why the channel takes no more posts, when Slack's error says so; None for any other error."""
    return ROOM_GONE.get(str(exc.response.get("error")))


def make_client(token: str, base_url: str | None = None, *, timeout: int = 15) -> WebClient:
    """A WebClient that waits out a few 429s (Retry-After) and nothing else.

    A refused or dropped connection and a 5xx raise at once (slack_sdk's default handler would retry a
    connection error first): the outbox retries each subscriber on its own schedule, so a Slack outage
    holds a delivery thread for one failed call, not for the client's retries. An answer that takes
    longer than `timeout` raises too; the delivery's retry looks for what the call may have made before
    making it again.
    """
    client = WebClient(token=token, base_url=base_url or WebClient.BASE_URL, timeout=timeout, retry_handlers=[])
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=3))
    return client


def channel_name(state: IncidentState, suffix: int = 0) -> str:
    """`inc-20261127-42-checkout-latency`: lowercase, [a-z0-9_-], ≤ 80 characters."""
    slug = _NOT_ALLOWED.sub("-", state.title.lower()).strip("-") or "incident"
    base = f"inc-{state.created_at:%Y%m%d}-{state.number}"
    tail = f"-{suffix}" if suffix else ""
    room = MAX_NAME - len(base) - len(tail) - 1
    name = f"{base}-{slug[:room].rstrip('-')}{tail}" if room > 0 else base + tail
    return name[:MAX_NAME]


def marker(state: IncidentState) -> str:
    """Written into the channel purpose so a retried open finds its own channel."""
    return f"[revenant:{state.incident_id}]"


class SlackChat:
    """ChatPlatform for Slack: a channel per incident with a pinned, live war-room message."""

    platform = "slack"

    def __init__(self, client: WebClient) -> None:
        self.client = client
        self._bot_user: str | None = None

    def open_room(self, state: IncidentState, view: WarRoom, plan: RoomPlan, steps: Steps) -> OpenedRoom:
        """Channel, topic and purpose, invitations, bookmarks, war-room message, pin, announcement: each step
        recorded, and each looked for in Slack before it is made (see handlers/slack/once.py)."""
        channel = steps.once(CHANNEL, lambda: self._create_channel(state, steps))
        channel_id, name = str(channel["id"]), str(channel["name"])
        # A channel this attempt created itself holds nothing yet, and no earlier attempt got past making it
        # (every later step needs the recorded channel): no bookmark, post, pin or announcement to look for.
        look = not (steps.made_here(CHANNEL) and channel.get("created") is True)
        steps.once(TOPIC, lambda: self._set(self.client.conversations_setTopic, channel_id, topic=self._topic(view)))
        purpose = escape_plain(f"{view.human_id}: {rt.one_line(view.title, 200)} {marker(state)}")
        steps.once(PURPOSE, lambda: self._set(self.client.conversations_setPurpose, channel_id, purpose=purpose))
        users = [u.split(":", 1)[1] for u in plan.invitees if u.startswith("slack:")]
        if users:
            steps.once(INVITED, lambda: self._invite(channel_id, users))
        if plan.links:
            steps.once(BOOKMARKS, lambda: self._bookmark(channel_id, plan.links, look=look))
        whose = {"incident_id": state.incident_id}
        message = steps.once(MESSAGE, lambda: {"ts": once.post_once(
            self.client, channel_id, once.WAR_ROOM, whose, look=look, text=blocks.fallback_text(view),
            blocks=blocks.war_room(view))})
        ts = str(message["ts"])
        steps.once(PIN, lambda: once.pin_once(self.client, channel_id, ts, look=look))
        if plan.announce_to:
            announce_to = plan.announce_to
            steps.once(ANNOUNCED, lambda: {"ts": once.post_once(
                self.client, announce_to, once.ANNOUNCEMENT, whose, look=look, **SlackText().message(rt.doc(rt.para(
                    rt.emoji("rotating_light"), f" {view.human_id} {view.severity.value} — "
                    f"{rt.one_line(view.title, 300)}. Join ", rt.Room("slack", channel_id, name)))))})
        return OpenedRoom(room_id=channel_id, name=name, message_id=ts)

    def refresh(self, room_id: str, message_id: str, view: WarRoom) -> None:
        """Update the war-room message; set the topic only when it changed (conversations.setTopic is Tier 2
        and leaves a "set the channel topic" line in the channel each time; conversations.info is Tier 3).

        An archived channel's messages cannot change (`is_archived`): its war room keeps the state it was
        archived with, and the refresh is done rather than retried (so too for a channel that is gone)."""
        try:
            self.client.chat_update(channel=room_id, ts=message_id, text=blocks.fallback_text(view),
                                    blocks=blocks.war_room(view))
        except SlackApiError as exc:
            reason = gone_reason(exc)
            if reason:
                log.info("war room of %s not refreshed: %s (channel %s)", view.human_id, reason, room_id)
                return
            raise
        topic = self._topic(view)
        current = (self.client.conversations_info(channel=room_id).get("channel") or {}).get("topic") or {}
        if current.get("value") != topic:
            self.client.conversations_setTopic(channel=room_id, topic=topic)

    def post(self, room_id: str, content: rt.Rich, *, thread_id: str | None = None) -> str:
        return str(self.client.chat_postMessage(channel=room_id, thread_ts=thread_id,
                                                **SlackText().message(content))["ts"])

    def cannot_open(self, state: IncidentState) -> str | None:
        """Slack can always create a channel (the bot's scopes permitting)."""
        return None

    def post_guidance(self, state: IncidentState, room: RoomRef, guidance: Guidance, *, trigger: str,
                      batch_id: str) -> Posted:
        """The suggestions as a thread reply under the war-room message; an earlier copy is found by its metadata."""
        text, content = sb.guidance_message(state.human_id, state.incident_id, guidance, trigger)
        return {"ts": self._post_once(room.room_id, once.GUIDANCE, {"incident_id": state.incident_id,
                                      "batch_id": batch_id}, thread_ts=room.message_id, text=text, blocks=content)}

    def post_notice(self, state: IncidentState, room: RoomRef, content: rt.Rich, *, key: str,
                    snooze: str | None) -> Posted:
        """The notice in the channel (with a snooze button for reminders); found by its metadata first."""
        return {"ts": self._post_once(room.room_id, once.NOTICE, {"incident_id": state.incident_id, "key": key},
                                      text=SlackText().message(content)["text"],
                                      blocks=notice_blocks(content, state.incident_id, snooze))}

    def _post_once(self, channel: str, event_type: str, whose: dict[str, str], **message: Any) -> str:
        """once.post_once, with RoomGone when the channel takes no more posts (archived, deleted, bot removed)."""
        try:
            return once.post_once(self.client, channel, event_type, whose, **message)
        except SlackApiError as exc:
            reason = gone_reason(exc)
            if reason:
                raise RoomGone(reason) from exc
            raise

    def archive(self, room_id: str) -> None:
        try:
            self.client.conversations_archive(channel=room_id)
        except SlackApiError as exc:
            if exc.response.get("error") != "already_archived":
                raise

    @staticmethod
    def _topic(view: WarRoom) -> str:
        """The channel topic (Slack parses it like message text, so the title is escaped; ≤ 250 characters)."""
        head = f"{view.severity.value} · {view.status.value} · {view.human_id} — "
        return cut(escape_plain(head + rt.one_line(view.title, 250)), 250)

    def _create_channel(self, state: IncidentState, steps: Steps) -> dict[str, str]:
        """Create the channel, or find the one an interrupted attempt created: its purpose carries our marker,
        or an attempt of ours asked for that very name and the channel is ours with its purpose unset."""
        for suffix in (0, *range(2, 21)):  # a name taken by someone else gets -2, -3, … (never -1)
            name = channel_name(state, suffix)
            tried = steps.get(f"create-{suffix}") is not None
            steps.record(f"create-{suffix}", {"name": name})  # before the call: its answer may never come
            try:
                made = self.client.conversations_create(name=name, is_private=False)
                return {"id": made["channel"]["id"], "name": name, "created": True}
            except SlackApiError as exc:
                if exc.response.get("error") != "name_taken":
                    raise
                existing = self._find(name)
                if existing and self._ours(existing, state, tried):
                    if not existing.get("is_member"):
                        self.client.conversations_join(channel=existing["id"])
                    return {"id": existing["id"], "name": name}
        raise RuntimeError(f"could not find a free channel name for {state.human_id}")

    def _ours(self, channel: dict, state: IncidentState, tried: bool) -> bool:
        """Our incident's channel: its purpose carries the marker, or an earlier attempt asked for this name,
        the bot created it and its purpose was never set (that attempt stopped before setPurpose)."""
        purpose = (channel.get("purpose") or {}).get("value", "")
        if marker(state) in purpose:
            return True
        if purpose or not tried:
            return False
        if self._bot_user is None:
            self._bot_user = str(self.client.auth_test()["user_id"])
        return channel.get("creator") == self._bot_user

    @staticmethod
    def _set(method: Callable[..., Any], channel_id: str, **text: str) -> dict[str, str]:
        method(channel=channel_id, **text)
        return dict(text)

    def _bookmark(self, channel_id: str, links: list[tuple[str, str]], *, look: bool) -> dict[str, int]:
        """Add the link bookmarks the channel does not have yet (bookmarks.list first, when `look`)."""
        have = {b.get("link") for b in self.client.bookmarks_list(channel_id=channel_id).get("bookmarks") or []
                } if look else set()
        added = 0
        for title, url in links[:20]:
            safe = rt.safe_url(url)
            if safe and safe not in have:
                self.client.bookmarks_add(channel_id=channel_id, type="link", link=safe,
                                          title=escape_plain(f"{rt.one_line(title, 60)} ({rt.host_of(safe)})"))
                have.add(safe)
                added += 1
        return {"added": added}

    def _find(self, name: str) -> dict | None:
        cursor = None
        while True:
            page = self.client.conversations_list(limit=200, cursor=cursor, exclude_archived=False,
                                                  types="public_channel,private_channel")
            for channel in page["channels"]:
                if channel["name"] == name:
                    return channel
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None

    def _invite(self, channel_id: str, users: list[str]) -> dict[str, list[str]]:
        try:
            self.client.conversations_invite(channel=channel_id, users=",".join(users[:1000]))
        except SlackApiError as exc:
            if exc.response.get("error") not in ("already_in_channel", "cant_invite_self"):
                raise
        return {"users": users[:1000]}
