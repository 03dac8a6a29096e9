"""In-memory Slack workspace state: teams, users, channels, messages, views, tokens."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from emulators.slack.renders import Rendered

CHANNEL_NAME = re.compile(r"^[a-z0-9_\-]+$")
TokenKind = Literal["bot", "user"]
DEFAULT_BOT_SCOPES = frozenset(
    "commands chat:write chat:write.public chat:write.customize channels:manage groups:write channels:read "
    "groups:read channels:history groups:history channels:join app_mentions:read reactions:read "
    "reactions:write pins:read pins:write bookmarks:read bookmarks:write users:read users:read.email "
    "im:write im:history files:write files:read".split()
)


class SlackError(Exception):
    """A Slack API error: answered as {"ok": false, "error": code, ...extra} with HTTP 200."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


@dataclass
class Team:
    """A workspace."""

    id: str
    name: str
    domain: str
    enterprise_id: str | None = None
    enterprise_name: str | None = None


@dataclass
class User:
    """A workspace member (a person or a bot user)."""

    id: str
    team_id: str
    name: str
    real_name: str
    email: str | None = None
    is_bot: bool = False
    is_admin: bool = False
    deleted: bool = False
    tz: str = "Etc/UTC"
    title: str = ""
    display_name: str = ""
    bot_id: str | None = None
    app_id: str | None = None
    updated: int = 0


@dataclass
class Token:
    """An access token and who it acts as."""

    value: str
    team_id: str
    user_id: str
    kind: TokenKind = "bot"
    scopes: frozenset[str] = DEFAULT_BOT_SCOPES
    bot_id: str | None = None
    app_id: str | None = None
    revoked: bool = False


@dataclass
class Topic:
    """Channel topic or purpose."""

    value: str = ""
    creator: str = ""
    last_set: int = 0


@dataclass
class Message:
    """A channel message or thread reply."""

    ts: str
    channel: str
    user: str
    text: str
    team: str
    blocks: list[dict[str, Any]] | None = None
    attachments: list[dict[str, Any]] | None = None
    thread_ts: str | None = None
    reply_broadcast: bool = False
    bot_id: str | None = None
    app_id: str | None = None
    username: str | None = None
    icon_emoji: str | None = None
    metadata: dict[str, Any] | None = None
    edited: dict[str, str] | None = None
    reactions: dict[str, list[str]] = field(default_factory=dict)
    pinned_by: str | None = None
    pinned_at: int = 0
    subtype: str | None = None
    inviter: str | None = None
    files: list[str] | None = None  # ids of files shared with this message (files.completeUploadExternal)

    @property
    def is_reply(self) -> bool:
        """True for a thread reply (not the thread's parent)."""
        return self.thread_ts is not None and self.thread_ts != self.ts


@dataclass
class UploadedFile:
    """A file from the external upload flow: a ticket until its bytes arrive, a file once completed."""

    id: str
    team_id: str
    user: str
    name: str
    length: int
    ticket: str
    created: int
    alt_txt: str = ""
    title: str = ""
    data: bytes | None = None
    completed: bool = False
    shares: dict[str, str] = field(default_factory=dict)  # channel id → message ts


@dataclass
class Bookmark:
    """A channel bookmark (link)."""

    id: str
    channel_id: str
    title: str
    link: str
    emoji: str | None
    created: int
    created_by: str
    team_id: str
    rank: str


@dataclass
class Channel:
    """A public or private channel, or a direct message."""

    id: str
    team_id: str
    name: str
    is_private: bool
    created: int
    creator: str
    members: list[str] = field(default_factory=list)
    topic: Topic = field(default_factory=Topic)
    purpose: Topic = field(default_factory=Topic)
    is_archived: bool = False
    is_general: bool = False
    is_im: bool = False
    messages: list[Message] = field(default_factory=list)
    bookmarks: list[Bookmark] = field(default_factory=list)
    updated_ms: int = 0

    def find(self, ts: str) -> Message | None:
        """The message with timestamp `ts`, if present."""
        return next((m for m in self.messages if m.ts == ts), None)

    def top_level(self) -> list[Message]:
        """Messages shown in the channel itself (parents and broadcast replies), oldest first."""
        return [m for m in self.messages if not m.is_reply or m.reply_broadcast]

    def replies(self, thread_ts: str) -> list[Message]:
        """Replies of a thread, oldest first."""
        return [m for m in self.messages if m.thread_ts == thread_ts and m.ts != thread_ts]


@dataclass
class Ephemeral:
    """An ephemeral message shown to one user."""

    ts: str
    channel: str
    user: str
    author: str
    text: str
    blocks: list[dict[str, Any]] | None = None
    thread_ts: str | None = None


@dataclass
class View:
    """A modal or an App Home view."""

    id: str
    team_id: str
    user_id: str
    type: str
    payload: dict[str, Any]
    hash: str
    root_view_id: str
    previous_view_id: str | None
    app_id: str
    bot_id: str
    external_id: str = ""
    open: bool = True


@dataclass
class Trigger:
    """A trigger_id handed to the app with an interaction; usable once within a few seconds."""

    id: str
    user_id: str
    team_id: str
    issued_at: float
    view_id: str | None = None
    used: bool = False


@dataclass
class ResponseUrl:
    """A response_url handed to the app with a slash command or an interaction."""

    token: str
    team_id: str
    channel: str
    user_id: str
    created: float
    message_ts: str | None = None
    thread_ts: str | None = None
    uses: int = 0
    posts: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class OAuthCode:
    """A temporary OAuth code exchangeable once with oauth.v2.access."""

    code: str
    team_id: str
    user_id: str
    scopes: frozenset[str]
    user_scopes: frozenset[str]
    redirect_uri: str | None = None
    used: bool = False


class SlackState:
    """Every object of the emulated Slack, with id and timestamp generators."""

    def __init__(self, clock: Callable[[], float], app_id: str = "A0EMULATOR") -> None:
        self.clock = clock
        self.app_id = app_id
        self.client_id = "0000000001.0000000001"
        self.client_secret = "emulator-client-secret"
        self.trigger_ttl = 3.0
        self.teams: dict[str, Team] = {}
        self.users: dict[str, User] = {}
        self.channels: dict[str, Channel] = {}
        self.tokens: dict[str, Token] = {}
        self.views: dict[str, View] = {}
        self.modal_stacks: dict[str, list[str]] = {}
        self.home_views: dict[str, str] = {}
        self.triggers: dict[str, Trigger] = {}
        self.response_urls: dict[str, ResponseUrl] = {}
        self.oauth_codes: dict[str, OAuthCode] = {}
        self.ephemerals: list[Ephemeral] = []
        self.renders: list[Rendered] = []  # every broadcast, mention, channel link and link Slack would render
        self.bot_users: dict[str, str] = {}
        self.files: dict[str, UploadedFile] = {}
        self.public_url = ""  # the emulator's base URL once it listens (upload URLs point at it)
        self._counter = itertools.count(1)
        self._last_ts = 0.0

    def new_id(self, prefix: str) -> str:
        """A fresh Slack-looking id such as C0000001A."""
        return f"{prefix}{next(self._counter):08X}"

    def new_ts(self) -> str:
        """A unique, increasing message timestamp ("1712345678.000100")."""
        now = max(self.clock(), self._last_ts + 0.000001)
        self._last_ts = now
        return f"{now:.6f}"

    def now(self) -> int:
        """Current time in whole seconds."""
        return int(self.clock())

    def team_channels(self, team_id: str) -> list[Channel]:
        """Channels of a team, in creation order."""
        return [c for c in self.channels.values() if c.team_id == team_id]

    def channel_by_name(self, team_id: str, name: str) -> Channel | None:
        """The non-DM channel called `name` in a team."""
        name = name.lstrip("#")
        return next((c for c in self.team_channels(team_id) if c.name == name and not c.is_im), None)

    def user_name(self, user_id: str) -> str:
        """Display name used when rendering."""
        user = self.users.get(user_id)
        if user is None:
            return user_id
        return user.display_name or user.name
