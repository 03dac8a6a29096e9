"""SlackChat: the chat port over the Slack Web API (sync client, run from worker threads)."""

from __future__ import annotations

import re

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from handlers.slack import blocks
from incident_core.rooms import OpenedRoom, RoomPlan
from incident_core.state import IncidentState
from incident_core.warroom import WarRoom

MAX_NAME = 80
_NOT_ALLOWED = re.compile(r"[^a-z0-9_-]+")


def make_client(token: str, base_url: str | None = None) -> WebClient:
    """A WebClient that waits out 429s (Retry-After), retries 5xx and dropped connections."""
    client = WebClient(token=token, base_url=base_url or WebClient.BASE_URL, timeout=15)
    client.retry_handlers.extend([RateLimitErrorRetryHandler(max_retry_count=8),
                                  ServerErrorRetryHandler(max_retry_count=3),
                                  ConnectionErrorRetryHandler(max_retry_count=3)])
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
            self.client.conversations_setPurpose(channel=channel_id,
                                                 purpose=f"{view.human_id}: {view.title[:200]} {marker(state)}")
        users = [u.split(":", 1)[1] for u in plan.invitees if u.startswith("slack:")]
        if users:
            self._invite(channel_id, users)
        for title, url in plan.links[:20]:
            self.client.bookmarks_add(channel_id=channel_id, title=title, type="link", link=url)
        posted = self.client.chat_postMessage(channel=channel_id, text=blocks.fallback_text(view),
                                              blocks=blocks.war_room(view))
        ts = posted["ts"]
        self.client.pins_add(channel=channel_id, timestamp=ts)
        if plan.announce_to:
            self.client.chat_postMessage(channel=plan.announce_to, text=(
                f":rotating_light: {view.human_id} {view.severity.value} — {view.title}. Join <#{channel_id}>"))
        return OpenedRoom(room_id=channel_id, name=name, message_id=ts)

    def refresh(self, room_id: str, message_id: str, view: WarRoom) -> None:
        self.client.chat_update(channel=room_id, ts=message_id, text=blocks.fallback_text(view),
                                blocks=blocks.war_room(view))
        self.client.conversations_setTopic(channel=room_id, topic=self._topic(view))

    def post(self, room_id: str, text: str, *, thread_id: str | None = None) -> str:
        return str(self.client.chat_postMessage(channel=room_id, text=text, thread_ts=thread_id)["ts"])

    def archive(self, room_id: str) -> None:
        try:
            self.client.conversations_archive(channel=room_id)
        except SlackApiError as exc:
            if exc.response.get("error") != "already_archived":
                raise

    @staticmethod
    def _topic(view: WarRoom) -> str:
        return f"{view.severity.value} · {view.status.value} · {view.human_id} — {view.title}"[:250]

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
