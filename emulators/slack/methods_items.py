"""reactions.*, pins.* and bookmarks.* methods."""

from __future__ import annotations

import re

from emulators.slack import ops
from emulators.slack.api import Call, Registry, Result
from emulators.slack.serialize import bookmark_json, message_json
from emulators.slack.state import Bookmark, Channel, Message, SlackError

items = Registry()
EMOJI_NAME = re.compile(r"^[a-z0-9_+'\-]+(::skin-tone-[2-6])?$")
MAX_BOOKMARKS = 100
MAX_REACTIONS = 23


def _target(call: Call, ts_arg: str = "timestamp") -> tuple[Channel, Message]:
    channel = call.channel()
    ts = call.get_str(ts_arg)
    if not ts:
        raise SlackError("no_item_specified")
    return channel, ops.find_message(channel, ts)


@items.method("reactions.add")
def reactions_add(call: Call) -> Result:
    """Add an emoji reaction as the caller."""
    channel, message = _target(call)
    name = (call.get_str("name") or "").strip(":")
    if not name or not EMOJI_NAME.match(name):
        raise SlackError("invalid_name")
    users = message.reactions.get(name, [])
    if call.caller in users:
        raise SlackError("already_reacted")
    if name not in message.reactions and len(message.reactions) >= MAX_REACTIONS:
        raise SlackError("too_many_reactions")
    message.reactions[name] = [*users, call.caller]
    return {}


@items.method("reactions.remove")
def reactions_remove(call: Call) -> Result:
    """Remove the caller's reaction."""
    _, message = _target(call)
    name = (call.get_str("name") or "").strip(":")
    users = message.reactions.get(name, [])
    if call.caller not in users:
        raise SlackError("no_reaction")
    users.remove(call.caller)
    if not users:
        del message.reactions[name]
    return {}


@items.method("reactions.get")
def reactions_get(call: Call) -> Result:
    """A message with its reactions."""
    channel, message = _target(call)
    return {"type": "message", "channel": channel.id, "message": message_json(call.state, channel, message)}


@items.method("pins.add")
def pins_add(call: Call) -> Result:
    """Pin a message to the channel."""
    channel, message = _target(call)
    call.require_member(channel)
    if message.pinned_by:
        raise SlackError("already_pinned")
    message.pinned_by, message.pinned_at = call.caller, call.state.now()
    return {}


@items.method("pins.remove")
def pins_remove(call: Call) -> Result:
    """Unpin a message."""
    channel, message = _target(call)
    call.require_member(channel)
    if not message.pinned_by:
        raise SlackError("no_pin")
    message.pinned_by, message.pinned_at = None, 0
    return {}


@items.method("pins.list")
def pins_list(call: Call) -> Result:
    """Pinned messages of a channel, newest pin first."""
    channel = call.channel()
    pinned = sorted((m for m in channel.messages if m.pinned_by), key=lambda m: m.pinned_at, reverse=True)
    return {
        "items": [
            {
                "type": "message",
                "created": m.pinned_at,
                "created_by": m.pinned_by,
                "channel": channel.id,
                "message": message_json(call.state, channel, m),
            }
            for m in pinned
        ]
    }


@items.method("bookmarks.add")
def bookmarks_add(call: Call) -> Result:
    """Add a link bookmark to a channel (at most 100 per channel)."""
    channel = call.channel("channel_id")
    title = call.get_str("title")
    kind = call.get_str("type")
    if not title:
        raise SlackError("invalid_arguments")
    if kind != "link":
        raise SlackError("invalid_bookmark_type")
    link = call.get_str("link") or ""
    if not link.startswith(("http://", "https://")):
        raise SlackError("invalid_link")
    emoji = call.get_str("emoji")
    if emoji and not re.match(r"^:[a-z0-9_+'\-]+:$", emoji):
        raise SlackError("invalid_emoji")
    if len(channel.bookmarks) >= MAX_BOOKMARKS:
        raise SlackError("too_many_bookmarks")
    bookmark = Bookmark(
        id=call.state.new_id("Bk"),
        channel_id=channel.id,
        title=title,
        link=link,
        emoji=emoji,
        created=call.state.now(),
        created_by=call.caller,
        team_id=call.team.id,
        rank=chr(ord("a") + len(channel.bookmarks) % 26),
    )
    channel.bookmarks.append(bookmark)
    return {"bookmark": bookmark_json(bookmark)}


@items.method("bookmarks.list")
def bookmarks_list(call: Call) -> Result:
    """Bookmarks of a channel."""
    channel = call.channel("channel_id")
    return {"bookmarks": [bookmark_json(b) for b in channel.bookmarks]}


@items.method("bookmarks.remove")
def bookmarks_remove(call: Call) -> Result:
    """Remove a bookmark."""
    channel = call.channel("channel_id")
    bookmark_id = call.get_str("bookmark_id")
    found = next((b for b in channel.bookmarks if b.id == bookmark_id), None)
    if found is None:
        raise SlackError("not_found")
    channel.bookmarks.remove(found)
    return {}
