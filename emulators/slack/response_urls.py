"""What Slack does with a payload posted to a response_url (used by Bolt's respond())."""

from __future__ import annotations

from typing import Any

from emulators.slack import ops
from emulators.slack.blocks import validate_blocks
from emulators.slack.state import Ephemeral, SlackError, SlackState

MAX_USES = 5
LIFETIME = 30 * 60


def handle_response_url(state: SlackState, token: str, body: Any) -> tuple[int, dict[str, Any]]:
    """Apply one response_url post; returns (HTTP status, JSON body)."""
    target = state.response_urls.get(token)
    if target is None or state.clock() - target.created > LIFETIME:
        return 404, {"ok": False, "error": "expired_url"}
    if target.uses >= MAX_USES:
        return 404, {"ok": False, "error": "used_url"}
    if not isinstance(body, dict):
        return 400, {"ok": False, "error": "invalid_payload"}
    target.uses += 1
    target.posts.append(body)
    channel = state.channels[target.channel]
    bot = state.bot_users[target.team_id]
    text = str(body.get("text") or "")
    blocks = body.get("blocks")
    if blocks is not None and validate_blocks(blocks):
        return 400, {"ok": False, "error": "invalid_blocks"}
    try:
        if body.get("delete_original"):
            ops.delete_message(channel, ops.find_message(channel, target.message_ts))
            return 200, {"ok": True}
        if not text and not blocks:
            return 400, {"ok": False, "error": "no_text"}
        if body.get("replace_original") and target.message_ts:
            message = ops.find_message(channel, target.message_ts)
            message.text, message.blocks = text, blocks
            message.edited = {"user": bot, "ts": state.new_ts()}
        elif body.get("response_type") == "in_channel":
            thread_ts = body.get("thread_ts") or target.thread_ts
            ops.post_message(state, channel, bot, text, blocks=blocks, thread_ts=thread_ts)
        else:
            state.ephemerals.append(
                Ephemeral(
                    ts=state.new_ts(),
                    channel=channel.id,
                    user=target.user_id,
                    author=bot,
                    text=text,
                    blocks=blocks,
                    thread_ts=body.get("thread_ts") or target.thread_ts,
                )
            )
    except SlackError as exc:
        return 404, {"ok": False, "error": exc.error}
    return 200, {"ok": True}
