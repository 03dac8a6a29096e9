"""Bot Connector state: Teams teams, channels, members, conversations and their activities."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

THREAD_MARK = ";messageid="


@dataclass
class Member:
    """A Teams user as GET /members returns it (TeamsChannelAccount)."""

    id: str
    name: str
    aad_object_id: str
    email: str
    tenant_id: str

    def answers_to(self, user_id: str) -> bool:
        """Whether GET …/members/{user_id} finds this member: by Teams user id, Entra object id or UPN, as Teams
        does (get-teams-context.md, "Get single member details"); a UPN regardless of case."""
        return user_id in (self.id, self.aad_object_id) or user_id.lower() == self.email.lower()

    def to_json(self) -> dict[str, Any]:
        """The TeamsChannelAccount JSON."""
        given, _, surname = self.name.partition(" ")
        return {
            "id": self.id,
            "name": self.name,
            "aadObjectId": self.aad_object_id,
            "email": self.email,
            "userPrincipalName": self.email,
            "givenName": given,
            "surname": surname,
            "tenantId": self.tenant_id,
            "userRole": "user",
        }


@dataclass
class Team:
    """A team; its id is the id of its General channel, as in Teams."""

    id: str
    name: str
    tenant_id: str
    aad_group_id: str
    channels: dict[str, str] = field(default_factory=dict)
    members: list[str] = field(default_factory=list)

    def channel_id(self, name: str) -> str:
        """Channel id by display name."""
        return self.channels[name]


@dataclass
class Conversation:
    """A personal chat, a channel, or a thread (channel id + ;messageid=root)."""

    id: str
    kind: str
    tenant_id: str
    team_id: str | None = None
    members: list[str] = field(default_factory=list)
    activities: list[dict[str, Any]] = field(default_factory=list)

    @property
    def channel_id(self) -> str:
        """The channel part of a thread id."""
        return self.id.split(THREAD_MARK, 1)[0]


class ConnectorState:
    """Everything the connector emulator knows, with id generators."""

    def __init__(self, clock: Callable[[], float], tenant_id: str) -> None:
        self.clock = clock
        self.tenant_id = tenant_id
        self.teams: dict[str, Team] = {}
        self.members: dict[str, Member] = {}
        self.conversations: dict[str, Conversation] = {}
        self.deleted_channels: set[str] = set()  # their conversations answer 404 ConversationNotFound
        self._last_activity = 0

    def new_activity_id(self) -> str:
        """Teams-style activity id: epoch milliseconds, strictly increasing."""
        self._last_activity = max(int(self.clock() * 1000), self._last_activity + 1)
        return str(self._last_activity)

    def timestamp(self) -> str:
        """ISO-8601 UTC timestamp with milliseconds, as in activities."""
        return dt.datetime.fromtimestamp(self.clock(), dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

    def add_member(self, name: str, email: str | None = None) -> Member:
        """A user in the tenant."""
        member = Member(
            id="29:" + secrets.token_urlsafe(24),
            name=name,
            aad_object_id=secrets.token_hex(16),
            email=email or f"{name.lower().replace(' ', '.')}@example.com",
            tenant_id=self.tenant_id,
        )
        self.members[member.id] = member
        return member

    def add_team(self, name: str, channels: list[str]) -> Team:
        """A team with named channels (the first one is General and carries the team id)."""
        names = channels if channels and channels[0] == "General" else ["General", *channels]
        ids = {n: f"19:{secrets.token_hex(16)}@thread.tacv2" for n in names}
        team = Team(
            id=ids["General"], name=name, tenant_id=self.tenant_id, aad_group_id=secrets.token_hex(16)
        )
        team.channels = ids
        self.teams[team.id] = team
        for channel_id in ids.values():
            self.conversations[channel_id] = Conversation(channel_id, "channel", self.tenant_id, team.id)
        return team

    def team_of_channel(self, channel_id: str) -> Team | None:
        """The team owning a channel id."""
        return next((t for t in self.teams.values() if channel_id in t.channels.values()), None)

    def channel_name(self, channel_id: str) -> str:
        """Display name of a channel id."""
        team = self.team_of_channel(channel_id)
        if team is None:
            return channel_id
        return next(n for n, i in team.channels.items() if i == channel_id)

    def conversation(self, conversation_id: str, *, create: bool) -> Conversation | None:
        """A known conversation; threads of known channels and (when `create`) unknown ids are created."""
        channel_id = conversation_id.split(THREAD_MARK, 1)[0]
        if channel_id in self.deleted_channels:
            return None
        found = self.conversations.get(conversation_id)
        if found is not None:
            return found
        parent = self.conversations.get(channel_id)
        if parent is not None or create:
            kind = "channel" if conversation_id.startswith("19:") else "personal"
            found = Conversation(conversation_id, kind, self.tenant_id, parent.team_id if parent else None)
            self.conversations[conversation_id] = found
        return found

    def members_of(self, conversation: Conversation) -> list[Member]:
        """Members of a conversation (a team's members for channels and threads)."""
        team = self.teams.get(conversation.team_id or "")
        ids = team.members if team is not None else conversation.members
        return [self.members[m] for m in ids if m in self.members]

    def find_activity(self, conversation: Conversation, activity_id: str) -> dict[str, Any] | None:
        """An activity of the conversation (or of any thread of a channel)."""
        for conv in self.related(conversation.id):
            for activity in conv.activities:
                if activity.get("id") == activity_id:
                    return activity
        return None

    def record(
        self, conversation: Conversation, activity: dict[str, Any], reply_to: str | None, bot_name: str
    ) -> dict[str, Any]:
        """Store an activity with the id, timestamp and conversation the connector assigns."""
        stored = dict(activity)
        stored["id"] = self.new_activity_id()
        stored["timestamp"] = self.timestamp()
        stored.setdefault("type", "message")
        stored.setdefault("from", {"id": "28:bot", "name": bot_name})
        stored["conversation"] = {
            "id": conversation.id,
            "conversationType": conversation.kind,
            "tenantId": conversation.tenant_id,
            "isGroup": conversation.kind != "personal",
        }
        if reply_to:
            stored["replyToId"] = reply_to
        conversation.activities.append(stored)
        return stored

    def new_thread(self, channel_id: str, activity: dict[str, Any], bot_name: str) -> dict[str, Any]:
        """A new channel post: its id becomes the thread's ;messageid=."""
        aid = self.new_activity_id()
        thread = self.conversation(f"{channel_id}{THREAD_MARK}{aid}", create=True)
        assert thread is not None
        stored = self.record(thread, activity, None, bot_name)
        stored["id"] = aid
        return stored

    def personal(self, member_id: str) -> Conversation:
        """The bot's 1:1 chat with a member (the same id every time, as in Teams)."""
        for conv in self.conversations.values():
            if conv.kind == "personal" and conv.members == [member_id]:
                return conv
        conv = Conversation("a:" + secrets.token_urlsafe(32), "personal", self.tenant_id, members=[member_id])
        self.conversations[conv.id] = conv
        return conv

    def related(self, conversation_id: str) -> list[Conversation]:
        """The conversation itself, or for a channel id all its threads."""
        if THREAD_MARK in conversation_id:
            found = self.conversations.get(conversation_id)
            return [found] if found else []
        return [c for c in self.conversations.values() if c.channel_id == conversation_id]
