"""chat.* methods."""

from __future__ import annotations

import re
from typing import Any

from emulators.slack import ops
from emulators.slack.api import Call, Registry, Result
from emulators.slack.blocks import validate_blocks
from emulators.slack.serialize import message_json
from emulators.slack.state import Channel, Ephemeral, SlackError

chat = Registry()


def _content(
    call: Call, *, required: bool = True
) -> tuple[str, list[dict[str, Any]] | None, list[Any] | None]:
    text = call.get_str("text") or ""
    blocks = call.get_json("blocks")
    attachments = call.get_json("attachments")
    if blocks is not None:
        errors = validate_blocks(blocks, "message")
        if errors:
            raise SlackError("invalid_blocks", response_metadata={"messages": errors})
    if attachments is not None and not isinstance(attachments, list):
        raise SlackError("invalid_attachments")
    if required and not text and not blocks and not attachments:
        raise SlackError("no_text")
    return text, blocks, attachments


def _postable(call: Call) -> Channel:
    """The target channel, enforcing Slack's membership rules for posting."""
    ref = call.get_str("channel")
    if ref and ref.startswith(("U", "W")) and ref in call.state.users:
        return ops.dm_channel(call.state, call.team.id, call.caller, call.user(ref).id)
    channel = call.channel(by_name=True)
    if channel.is_archived:
        raise SlackError("is_archived")
    if call.caller not in channel.members:
        token = call.token
        if channel.is_private or token is None or "chat:write.public" not in token.scopes:
            raise SlackError("not_in_channel")
    return channel


METADATA_EVENT_TYPE = re.compile(r"^[A-Za-z0-9_]+$")


def _metadata(call: Call) -> dict[str, Any] | None:
    """Message metadata: {"event_type": alphanumeric/underscore, "event_payload": object}."""
    if "metadata" not in call.args:
        return None
    meta = call.get_json("metadata")
    if (not isinstance(meta, dict) or not isinstance(meta.get("event_type"), str)
            or not METADATA_EVENT_TYPE.match(meta["event_type"])
            or not isinstance(meta.get("event_payload"), dict)):
        raise SlackError("invalid_metadata_format")
    return {"event_type": meta["event_type"], "event_payload": meta["event_payload"]}


@chat.method("chat.postMessage")
def post_message(call: Call) -> Result:
    """Post a message or a thread reply."""
    channel = _postable(call)
    text, blocks, attachments = _content(call)
    message = ops.post_message(
        call.state,
        channel,
        call.caller,
        text,
        blocks=blocks,
        attachments=attachments,
        thread_ts=call.get_str("thread_ts"),
        reply_broadcast=call.get_bool("reply_broadcast"),
        metadata=_metadata(call),
        username=call.get_str("username"),
        icon_emoji=call.get_str("icon_emoji"),
    )
    return {"channel": channel.id, "ts": message.ts, "message": message_json(call.state, channel, message)}


@chat.method("chat.postEphemeral")
def post_ephemeral(call: Call) -> Result:
    """Show a message to one member of the channel."""
    channel = _postable(call)
    user = call.user(call.get_str("user", required=True))
    if user.id not in channel.members:
        raise SlackError("user_not_in_channel")
    text, blocks, _ = _content(call)
    ts = call.state.new_ts()
    call.state.ephemerals.append(
        Ephemeral(
            ts=ts,
            channel=channel.id,
            user=user.id,
            author=call.caller,
            text=text,
            blocks=blocks,
            thread_ts=call.get_str("thread_ts"),
        )
    )
    return {"message_ts": ts}


@chat.method("chat.update")
def update(call: Call) -> Result:
    """Edit a message the caller posted."""
    channel = call.channel()
    message = ops.find_message(channel, call.get_str("ts"))
    if message.user != call.caller:
        raise SlackError("cant_update_message")
    call.require_not_archived(channel)
    text, blocks, attachments = _content(call, required=False)
    if not text and blocks is None and attachments is None:
        raise SlackError("no_text")
    message.text = text[: ops.MAX_TEXT]
    if blocks is not None:
        message.blocks = blocks
    if attachments is not None:
        message.attachments = attachments
    if "metadata" in call.args:
        message.metadata = _metadata(call)
    message.edited = {"user": call.caller, "ts": call.state.new_ts()}
    data = message_json(call.state, channel, message)
    return {"channel": channel.id, "ts": message.ts, "text": message.text, "message": data}


@chat.method("chat.delete")
def delete(call: Call) -> Result:
    """Delete a message the caller posted."""
    channel = call.channel()
    message = ops.find_message(channel, call.get_str("ts"))
    if message.user != call.caller:
        raise SlackError("cant_delete_message")
    ops.delete_message(channel, message)
    return {"channel": channel.id, "ts": message.ts}


@chat.method("chat.getPermalink")
def get_permalink(call: Call) -> Result:
    """A link to a message (the workspace's slack.com URL, as Slack builds it)."""
    channel = call.channel()
    message = ops.find_message(channel, call.get_str("message_ts"))
    link = f"https://{call.team.domain}.slack.com/archives/{channel.id}/p{message.ts.replace('.', '')}"
    if message.is_reply:
        link += f"?thread_ts={message.thread_ts}&cid={channel.id}"
    return {"channel": channel.id, "permalink": link}
