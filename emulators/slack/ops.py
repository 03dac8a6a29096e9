"""State changes shared by Web API methods and the test helpers."""

from __future__ import annotations

from typing import Any

from emulators.slack.state import CHANNEL_NAME, Channel, Message, SlackError, SlackState

MAX_TEXT = 40_000
SYSTEM_SUBTYPES = frozenset(
    {"channel_join", "channel_leave", "channel_topic", "channel_purpose", "channel_archive", "channel_name"}
)


def validate_channel_name(name: str) -> None:
    """Slack's naming rules for conversations.create."""
    if not name:
        raise SlackError("invalid_name_required")
    if len(name) > 80:
        raise SlackError("invalid_name_maxlength")
    if not CHANNEL_NAME.match(name):
        raise SlackError("invalid_name_specials")
    if not name.strip("-_"):
        raise SlackError("invalid_name_punctuation")


def create_channel(
    state: SlackState,
    team_id: str,
    name: str,
    creator: str,
    *,
    is_private: bool = False,
    is_general: bool = False,
) -> Channel:
    """Create a channel with its creator as the first member."""
    validate_channel_name(name)
    if state.channel_by_name(team_id, name) is not None:
        raise SlackError("name_taken")
    now = state.clock()
    channel = Channel(
        id=state.new_id("C"),
        team_id=team_id,
        name=name,
        is_private=is_private,
        created=int(now),
        creator=creator,
        is_general=is_general,
        updated_ms=int(now * 1000),
    )
    state.channels[channel.id] = channel
    add_member(state, channel, creator)
    return channel


def add_member(state: SlackState, channel: Channel, user_id: str, inviter: str | None = None) -> None:
    """Add a member and record the channel_join message Slack shows."""
    if user_id in channel.members:
        return
    channel.members.append(user_id)
    if channel.is_im:
        return
    message = post_message(
        state, channel, user_id, f"<@{user_id}> has joined the channel", subtype="channel_join"
    )
    message.inviter = inviter


def dm_channel(state: SlackState, team_id: str, a: str, b: str) -> Channel:
    """The direct-message conversation between two users (created on first use)."""
    pair = {a, b}
    for channel in state.team_channels(team_id):
        if channel.is_im and set(channel.members) == pair:
            return channel
    now = state.clock()
    channel = Channel(
        id=state.new_id("D"),
        team_id=team_id,
        name="",
        is_private=True,
        created=int(now),
        creator=a,
        is_im=True,
        members=sorted(pair),
        updated_ms=int(now * 1000),
    )
    state.channels[channel.id] = channel
    return channel


def post_message(
    state: SlackState,
    channel: Channel,
    user_id: str,
    text: str,
    *,
    blocks: list[dict[str, Any]] | None = None,
    attachments: list[dict[str, Any]] | None = None,
    thread_ts: str | None = None,
    reply_broadcast: bool = False,
    subtype: str | None = None,
    metadata: dict[str, Any] | None = None,
    username: str | None = None,
    icon_emoji: str | None = None,
) -> Message:
    """Append a message (or a thread reply) to a channel."""
    if thread_ts is not None:
        parent = channel.find(thread_ts)
        if parent is None:
            raise SlackError("thread_not_found")
        thread_ts = parent.thread_ts or parent.ts
        root = channel.find(thread_ts)
        if root is not None and root.thread_ts is None:
            root.thread_ts = root.ts
    user = state.users.get(user_id)
    message = Message(
        ts=state.new_ts(),
        channel=channel.id,
        user=user_id,
        text=text[:MAX_TEXT],
        team=channel.team_id,
        blocks=blocks,
        attachments=attachments,
        thread_ts=thread_ts,
        reply_broadcast=reply_broadcast and thread_ts is not None,
        bot_id=user.bot_id if user else None,
        app_id=user.app_id if user else None,
        username=username,
        icon_emoji=icon_emoji,
        metadata=metadata,
        subtype=subtype,
    )
    channel.messages.append(message)
    channel.updated_ms = int(state.clock() * 1000)
    return message


def find_message(channel: Channel, ts: str | None) -> Message:
    """The message at `ts` or message_not_found."""
    message = channel.find(ts or "")
    if message is None or message.subtype == "tombstone":
        raise SlackError("message_not_found")
    return message


def delete_message(channel: Channel, message: Message) -> None:
    """Remove a message; a thread parent with replies leaves a tombstone like Slack."""
    if not message.is_reply and channel.replies(message.ts):
        message.subtype = "tombstone"
        message.text = "This message was deleted."
        message.blocks = None
        message.attachments = None
        return
    channel.messages.remove(message)
