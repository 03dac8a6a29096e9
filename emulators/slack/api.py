"""Method registry and argument helpers shared by the Slack method families."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from emulators.slack.state import Channel, SlackError, SlackState, Team, Token, User

Result = dict[str, Any]


@dataclass
class Call:
    """One Web API call: the state, who is calling and the merged arguments."""

    state: SlackState
    token: Token | None
    args: dict[str, Any]
    auth_header: str = ""

    @property
    def caller(self) -> str:
        """User id the token acts as."""
        assert self.token is not None
        return self.token.user_id

    @property
    def team(self) -> Team:
        """The token's workspace."""
        assert self.token is not None
        return self.state.teams[self.token.team_id]

    def get_str(self, name: str, default: str | None = None, *, required: bool = False) -> str | None:
        """A string argument; missing required ones raise the Slack-style error."""
        value = self.args.get(name)
        if value is None or value == "":
            if required:
                raise SlackError(_missing_error(name))
            return default
        return (
            value
            if isinstance(value, str)
            else json.dumps(value)
            if isinstance(value, dict | list)
            else str(value)
        )

    def get_bool(self, name: str, default: bool = False) -> bool:
        """A boolean argument ("true", "1", true)."""
        value = self.args.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        return str(value).lower() in ("1", "true", "yes")

    def get_int(self, name: str, default: int) -> int:
        """An integer argument; invalid values fall back to the default like Slack does."""
        try:
            return int(self.args.get(name, default))
        except (TypeError, ValueError):
            return default

    def get_json(self, name: str) -> Any:
        """A JSON argument given either as a JSON string (form bodies) or inline (JSON bodies)."""
        value = self.args.get(name)
        if isinstance(value, str):
            if not value.strip():
                return None
            try:
                return json.loads(value)
            except ValueError as exc:
                raise SlackError(
                    "invalid_arguments", response_metadata={"messages": [f"[ERROR] invalid JSON in `{name}`"]}
                ) from exc
        return value

    def channel(self, name: str = "channel", *, must_see: bool = True, by_name: bool = False) -> Channel:
        """The channel named by an argument: an id, or also a (#)name where Slack allows it (chat.post*)."""
        ref = self.get_str(name)
        if not ref:
            raise SlackError("channel_not_found")
        channel = self.state.channels.get(ref)
        if channel is None and by_name:
            channel = self.state.channel_by_name(self.team.id, ref)
        if channel is None or channel.team_id != self.team.id:
            raise SlackError("channel_not_found")
        if must_see and channel.is_private and self.caller not in channel.members:
            raise SlackError("channel_not_found")
        return channel

    def user(self, user_id: str | None) -> User:
        """A user of the caller's workspace."""
        user = self.state.users.get(user_id or "")
        if user is None or user.team_id != self.team.id:
            raise SlackError("user_not_found")
        return user

    def require_member(self, channel: Channel) -> None:
        """not_in_channel unless the caller belongs to the channel."""
        if self.caller not in channel.members:
            raise SlackError("not_in_channel")

    def require_not_archived(self, channel: Channel) -> None:
        """is_archived for archived channels."""
        if channel.is_archived:
            raise SlackError("is_archived")


def _missing_error(name: str) -> str:
    return {
        "channel": "channel_not_found",
        "channel_id": "channel_not_found",
        "user": "user_not_found",
        "users": "no_user",
        "ts": "message_not_found",
        "timestamp": "no_item_specified",
        "name": "invalid_name",
        "trigger_id": "invalid_arguments",
        "view": "invalid_arguments",
    }.get(name, "invalid_arguments")


Method = Callable[[Call], Result]


class Registry:
    """Maps Slack method names to handlers; `auth=False` methods skip token checks."""

    def __init__(self) -> None:
        self.methods: dict[str, tuple[Method, bool]] = {}

    def method(self, name: str, *, auth: bool = True) -> Callable[[Method], Method]:
        """Decorator registering a handler for `name`."""

        def register(fn: Method) -> Method:
            self.methods[name] = (fn, auth)
            return fn

        return register

    def include(self, other: Registry) -> None:
        """Merge another family's methods."""
        self.methods.update(other.methods)


def paginate(items: list[Any], call: Call, default_limit: int = 100) -> tuple[list[Any], str]:
    """Slice `items` by Slack cursor/limit; returns the page and the next cursor ("" at the end)."""
    limit = max(1, min(call.get_int("limit", default_limit) or default_limit, 1000))
    cursor = call.get_str("cursor") or ""
    start = 0
    if cursor:
        try:
            start = int(base64.b64decode(cursor).decode().split(":", 1)[1])
        except (ValueError, IndexError) as exc:
            raise SlackError("invalid_cursor") from exc
    page = items[start : start + limit]
    end = start + len(page)
    next_cursor = base64.b64encode(f"next:{end}".encode()).decode() if end < len(items) else ""
    return page, next_cursor
