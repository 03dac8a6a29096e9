"""conversations.* methods."""

from __future__ import annotations

from typing import Any

from emulators.slack import ops
from emulators.slack.api import Call, Registry, Result, paginate
from emulators.slack.serialize import channel_json, message_json
from emulators.slack.state import Channel, Message, SlackError

conversations = Registry()
MAX_TOPIC = 250


@conversations.method("conversations.create")
def create(call: Call) -> Result:
    """Create a public or private channel; the caller becomes its first member."""
    name = call.get_str("name") or ""
    channel = ops.create_channel(
        call.state, call.team.id, name, call.caller, is_private=call.get_bool("is_private")
    )
    return {"channel": channel_json(channel, call.caller)}


@conversations.method("conversations.info")
def info(call: Call) -> Result:
    """One conversation."""
    channel = call.channel()
    return {"channel": channel_json(channel, call.caller, num_members=call.get_bool("include_num_members"))}


@conversations.method("conversations.list")
def list_(call: Call) -> Result:
    """Conversations of the requested types visible to the caller."""
    types = set((call.get_str("types") or "public_channel").split(","))
    exclude_archived = call.get_bool("exclude_archived")

    def visible(c: Channel) -> bool:
        if exclude_archived and c.is_archived:
            return False
        if c.is_im:
            return "im" in types and call.caller in c.members
        if c.is_private:
            return "private_channel" in types and call.caller in c.members
        return "public_channel" in types

    channels = [c for c in call.state.team_channels(call.team.id) if visible(c)]
    page, cursor = paginate(channels, call)
    return {
        "channels": [channel_json(c, call.caller, num_members=True) for c in page],
        "response_metadata": {"next_cursor": cursor},
    }


@conversations.method("conversations.join")
def join(call: Call) -> Result:
    """Join a public channel (warning already_in_channel when already a member)."""
    channel = call.channel()
    if channel.is_private or channel.is_im:
        raise SlackError("method_not_supported_for_channel_type")
    call.require_not_archived(channel)
    result: Result = {}
    if call.caller in channel.members:
        result = {"warning": "already_in_channel", "response_metadata": {"warnings": ["already_in_channel"]}}
    ops.add_member(call.state, channel, call.caller)
    return {"channel": channel_json(channel, call.caller), **result}


@conversations.method("conversations.open")
def open_(call: Call) -> Result:
    """Open (or find) a direct message with one user."""
    users = [u for u in (call.get_str("users") or "").split(",") if u]
    if len(users) != 1:
        raise SlackError("not_enough_users" if not users else "too_many_users")
    other = call.user(users[0])
    channel = ops.dm_channel(call.state, call.team.id, call.caller, other.id)
    return {"no_op": True, "already_open": True, "channel": {"id": channel.id}}


@conversations.method("conversations.invite")
def invite(call: Call) -> Result:
    """Invite users; per-user failures come back in `errors` like Slack reports them."""
    channel = call.channel()
    user_ids = [u.strip() for u in (call.get_str("users", required=True) or "").split(",") if u.strip()]
    if not user_ids:
        raise SlackError("no_user")
    if len(user_ids) > 1000:
        raise SlackError("too_many_users")
    if channel.is_im:
        raise SlackError("method_not_supported_for_channel_type")
    call.require_not_archived(channel)
    call.require_member(channel)
    errors: list[dict[str, Any]] = []
    valid: list[str] = []
    for user_id in user_ids:
        user = call.state.users.get(user_id)
        if user is None or user.team_id != call.team.id or user.deleted:
            errors.append({"user": user_id, "ok": False, "error": "user_not_found"})
        elif user_id == call.caller:
            errors.append({"user": user_id, "ok": False, "error": "cant_invite_self"})
        elif user_id in channel.members:
            errors.append({"user": user_id, "ok": False, "error": "already_in_channel"})
        else:
            valid.append(user_id)
    if errors and not (call.get_bool("force") and valid):
        raise SlackError(errors[0]["error"], errors=errors)
    for user_id in valid:
        ops.add_member(call.state, channel, user_id, inviter=call.caller)
    result: Result = {"channel": channel_json(channel, call.caller)}
    if errors:
        result["errors"] = errors
    return result


@conversations.method("conversations.kick")
def kick(call: Call) -> Result:
    """Remove a member."""
    channel = call.channel()
    user_id = call.get_str("user", required=True)
    call.require_member(channel)
    if user_id == call.caller:
        raise SlackError("cant_kick_self")
    user = call.user(user_id)
    if user.id not in channel.members:
        raise SlackError("not_in_channel")
    channel.members.remove(user.id)
    ops.post_message(
        call.state, channel, user.id, f"<@{user.id}> has left the channel", subtype="channel_leave"
    )
    return {}


def _set_text(call: Call, attr: str, arg: str, subtype: str, verb: str) -> Result:
    channel = call.channel()
    value = call.get_str(arg) or ""
    call.require_member(channel)
    call.require_not_archived(channel)
    if len(value) > MAX_TOPIC:
        raise SlackError("too_long")
    target = getattr(channel, attr)
    target.value, target.creator, target.last_set = value, call.caller, call.state.now()
    ops.post_message(call.state, channel, call.caller, f"{verb}: {value}", subtype=subtype)
    return {"channel": channel_json(channel, call.caller)}


@conversations.method("conversations.setTopic")
def set_topic(call: Call) -> Result:
    """Set the channel topic (≤ 250 characters)."""
    return _set_text(call, "topic", "topic", "channel_topic", "set the channel topic")


@conversations.method("conversations.setPurpose")
def set_purpose(call: Call) -> Result:
    """Set the channel description (≤ 250 characters)."""
    return _set_text(call, "purpose", "purpose", "channel_purpose", "set the channel description")


@conversations.method("conversations.archive")
def archive(call: Call) -> Result:
    """Archive a channel."""
    channel = call.channel()
    if channel.is_general:
        raise SlackError("cant_archive_general")
    if channel.is_archived:
        raise SlackError("already_archived")
    call.require_member(channel)
    ops.post_message(call.state, channel, call.caller, "archived the channel", subtype="channel_archive")
    channel.is_archived = True
    return {}


def _readable(call: Call) -> Channel:
    channel = call.channel()
    if call.caller not in channel.members:
        raise SlackError("not_in_channel")
    return channel


def _window(call: Call, messages: list[Message]) -> list[Message]:
    oldest = float(call.get_str("oldest") or 0)
    latest = float(call.get_str("latest") or "inf")
    inclusive = call.get_bool("inclusive")

    def inside(m: Message) -> bool:
        ts = float(m.ts)
        if inclusive:
            return oldest <= ts <= latest
        return oldest < ts < latest

    return [m for m in messages if inside(m)]


def _messages(call: Call, channel: Channel, page: list[Message]) -> list[dict[str, Any]]:
    """Messages as history and replies return them: metadata only with include_all_metadata=true."""
    shown = [message_json(call.state, channel, m) for m in page]
    if not call.get_bool("include_all_metadata"):
        for data in shown:
            data.pop("metadata", None)
    return shown


@conversations.method("conversations.history")
def history(call: Call) -> Result:
    """Channel messages, newest first (thread replies are not included)."""
    channel = _readable(call)
    messages = list(reversed(_window(call, channel.top_level())))
    page, cursor = paginate(messages, call)
    return {
        "messages": _messages(call, channel, page),
        "has_more": bool(cursor),
        "pin_count": sum(1 for m in channel.messages if m.pinned_by),
        "channel_actions_ts": None,
        "channel_actions_count": 0,
        "response_metadata": {"next_cursor": cursor},
    }


@conversations.method("conversations.replies")
def replies(call: Call) -> Result:
    """A thread: its parent first, then the replies oldest first."""
    channel = _readable(call)
    message = channel.find(call.get_str("ts") or "")
    if message is None:
        raise SlackError("thread_not_found")
    root_ts = message.thread_ts or message.ts
    root = channel.find(root_ts)
    thread = ([root] if root else []) + channel.replies(root_ts)
    page, cursor = paginate(_window(call, thread), call, default_limit=1000)
    return {
        "messages": _messages(call, channel, page),
        "has_more": bool(cursor),
        "response_metadata": {"next_cursor": cursor},
    }


@conversations.method("conversations.members")
def members(call: Call) -> Result:
    """Member ids, paginated."""
    channel = call.channel()
    page, cursor = paginate(list(channel.members), call)
    return {"members": page, "response_metadata": {"next_cursor": cursor}}
