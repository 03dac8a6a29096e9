"""SlackChat: the chat port over the Slack Web API (sync client, run from worker threads)."""

from __future__ import annotations

import re

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from handlers.slack import blocks
from handlers.slack.mrkdwn import SlackText, cut, escape_plain
from incident_core import richtext as rt
from incident_core.rooms import OpenedRoom, RoomPlan
from incident_core.state import IncidentState
from incident_core.warroom import WarRoom

MAX_NAME = 80
_NOT_ALLOWED = re.compile(r"[^a-z0-9_-]+")


def make_client(token: str, base_url: str | None = None) -> WebClient:
    """A WebClient that waits out a few 429s (Retry-After) and nothing else.

    A refused or dropped connection and a 5xx raise at once (slack_sdk's default handler would retry a
    connection error first): the outbox retries each subscriber on its own schedule, so a Slack outage
    holds a delivery thread for one failed call, not for the client's retries.
    """
    client = WebClient(token=token, base_url=base_url or WebClient.BASE_URL, timeout=15, retry_handlers=[])
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
    """ChatPort for Slack: a channel per incident with a pinned, live war-room message."""

    platform = "slack"

    def __init__(self, client: WebClient) -> None:
        self.client = client

    def open_room(self, state: IncidentState, view: WarRoom, plan: RoomPlan) -> OpenedRoom:
        channel_id, name, created = self._create_channel(state)
        if created:
            self.client.conversations_setTopic(channel=channel_id, topic=self._topic(view))
            purpose = f"{view.human_id}: {rt.one_line(view.title, 200)} {marker(state)}"
            self.client.conversations_setPurpose(channel=channel_id, purpose=escape_plain(purpose))
        users = [u.split(":", 1)[1] for u in plan.invitees if u.startswith("slack:")]
        if users:
            self._invite(channel_id, users)
        for title, url in plan.links[:20]:
            safe = rt.safe_url(url)
            if safe:
                self.client.bookmarks_add(channel_id=channel_id, type="link", link=safe,
                                          title=escape_plain(f"{rt.one_line(title, 60)} ({rt.host_of(safe)})"))
        posted = self.client.chat_postMessage(channel=channel_id, text=blocks.fallback_text(view),
                                              blocks=blocks.war_room(view))
        ts = posted["ts"]
        self.client.pins_add(channel=channel_id, timestamp=ts)
        if plan.announce_to:
            self.client.chat_postMessage(channel=plan.announce_to, **SlackText().message(rt.doc(rt.para(
                rt.emoji("rotating_light"), f" {view.human_id} {view.severity.value} — {rt.one_line(view.title, 300)}. "
                "Join ", rt.Room("slack", channel_id, name)))))
        return OpenedRoom(room_id=channel_id, name=name, message_id=ts)

    def refresh(self, room_id: str, message_id: str, view: WarRoom) -> None:
        """Update the war-room message; set the topic only when it changed (conversations.setTopic is Tier 2
        and leaves a "set the channel topic" line in the channel each time; conversations.info is Tier 3)."""
        self.client.chat_update(channel=room_id, ts=message_id, text=blocks.fallback_text(view),
                                blocks=blocks.war_room(view))
        topic = self._topic(view)
        current = (self.client.conversations_info(channel=room_id).get("channel") or {}).get("topic") or {}
        if current.get("value") != topic:
            self.client.conversations_setTopic(channel=room_id, topic=topic)

    def post(self, room_id: str, content: rt.Rich, *, thread_id: str | None = None) -> str:
        return str(self.client.chat_postMessage(channel=room_id, thread_ts=thread_id,
                                                **SlackText().message(content))["ts"])

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

    def _create_channel(self, state: IncidentState) -> tuple[str, str, bool]:
        for suffix in (0, *range(2, 21)):  # a taken name gets -2, -3, … (never -1)
            name = channel_name(state, suffix)
            try:
                made = self.client.conversations_create(name=name, is_private=False)
                return made["channel"]["id"], name, True
            except SlackApiError as exc:
                if exc.response.get("error") != "name_taken":
                    raise
                existing = self._find(name)
                if existing and marker(state) in existing.get("purpose", {}).get("value", ""):
                    if not existing.get("is_member"):
                        self.client.conversations_join(channel=existing["id"])
                    return existing["id"], name, False
        raise RuntimeError(f"could not find a free channel name for {state.human_id}")

    def _find(self, name: str) -> dict | None:
        cursor = None
        while True:
            page = self.client.conversations_list(limit=200, cursor=cursor, exclude_archived=False,
                                                  types="public_channel,private_channel")
            for channel in page["channels"]:
                if channel["name"] == name:
                    return channel
            cursor = page.get("response_metadata", {}).get("next_cursor")
            if not cursor:
                return None

    def _invite(self, channel_id: str, users: list[str]) -> None:
        try:
            self.client.conversations_invite(channel=channel_id, users=",".join(users[:1000]))
        except SlackApiError as exc:
            if exc.response.get("error") not in ("already_in_channel", "cant_invite_self"):
                raise
