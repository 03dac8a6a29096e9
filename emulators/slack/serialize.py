"""Slack Web API JSON shapes of the emulator's objects."""

from __future__ import annotations

import hashlib
from typing import Any

from emulators.slack.state import Bookmark, Channel, Message, SlackState, User, View


def user_json(user: User) -> dict[str, Any]:
    """A user object as users.info returns it."""
    avatar = hashlib.md5(user.id.encode()).hexdigest()[:12]  # noqa: S324 - not security relevant
    profile: dict[str, Any] = {
        "title": user.title,
        "phone": "",
        "skype": "",
        "real_name": user.real_name,
        "real_name_normalized": user.real_name,
        "display_name": user.display_name,
        "display_name_normalized": user.display_name,
        "fields": None,
        "status_text": "",
        "status_emoji": "",
        "status_expiration": 0,
        "avatar_hash": avatar,
        "first_name": user.real_name.split(" ")[0] if user.real_name else "",
        "last_name": " ".join(user.real_name.split(" ")[1:]),
        "image_24": f"https://avatars.slack-edge.com/{avatar}_24.png",
        "image_72": f"https://avatars.slack-edge.com/{avatar}_72.png",
        "team": user.team_id,
    }
    if user.email:
        profile["email"] = user.email
    if user.bot_id:
        profile["bot_id"] = user.bot_id
        profile["api_app_id"] = user.app_id or ""
        profile["always_active"] = True
    return {
        "id": user.id,
        "team_id": user.team_id,
        "name": user.name,
        "deleted": user.deleted,
        "color": "9f69e7",
        "real_name": user.real_name,
        "tz": user.tz,
        "tz_label": "Coordinated Universal Time",
        "tz_offset": 0,
        "profile": profile,
        "is_admin": user.is_admin,
        "is_owner": False,
        "is_primary_owner": False,
        "is_restricted": False,
        "is_ultra_restricted": False,
        "is_bot": user.is_bot,
        "is_app_user": False,
        "updated": user.updated,
        "is_email_confirmed": bool(user.email),
        "who_can_share_contact_card": "EVERYONE",
    }


def channel_json(channel: Channel, viewer: str, *, num_members: bool = False) -> dict[str, Any]:
    """A conversation object as conversations.info/create return it."""
    if channel.is_im:
        other = next((m for m in channel.members if m != viewer), viewer)
        return {
            "id": channel.id,
            "created": channel.created,
            "is_im": True,
            "is_org_shared": False,
            "user": other,
            "is_user_deleted": False,
            "priority": 0,
            "is_archived": False,
            "is_open": True,
            "context_team_id": channel.team_id,
            "updated": channel.updated_ms,
        }
    data: dict[str, Any] = {
        "id": channel.id,
        "name": channel.name,
        "is_channel": True,
        "is_group": False,
        "is_im": False,
        "is_mpim": False,
        "is_private": channel.is_private,
        "created": channel.created,
        "is_archived": channel.is_archived,
        "is_general": channel.is_general,
        "unlinked": 0,
        "name_normalized": channel.name,
        "is_shared": False,
        "is_org_shared": False,
        "is_pending_ext_shared": False,
        "pending_shared": [],
        "context_team_id": channel.team_id,
        "updated": channel.updated_ms,
        "parent_conversation": None,
        "creator": channel.creator,
        "is_ext_shared": False,
        "shared_team_ids": [channel.team_id],
        "pending_connected_team_ids": [],
        "is_member": viewer in channel.members,
        "topic": {
            "value": channel.topic.value,
            "creator": channel.topic.creator,
            "last_set": channel.topic.last_set,
        },
        "purpose": {
            "value": channel.purpose.value,
            "creator": channel.purpose.creator,
            "last_set": channel.purpose.last_set,
        },
        "previous_names": [],
        "priority": 0,
    }
    if num_members:
        data["num_members"] = len(channel.members)
    return data


def bot_profile(state: SlackState, message: Message) -> dict[str, Any] | None:
    """The bot_profile block attached to messages posted by an app."""
    if not message.bot_id:
        return None
    user = state.users.get(message.user)
    return {
        "id": message.bot_id,
        "app_id": message.app_id,
        "name": user.real_name if user else "app",
        "icons": {"image_36": "https://a.slack-edge.com/80588/img/plugins/app/bot_36.png"},
        "deleted": False,
        "updated": user.updated if user else 0,
        "team_id": message.team,
    }


def message_json(state: SlackState, channel: Channel, message: Message) -> dict[str, Any]:
    """A message object as conversations.history and chat.postMessage return it."""
    data: dict[str, Any] = {"type": "message"}
    if message.subtype:
        data["subtype"] = message.subtype
    data.update({"user": message.user, "text": message.text, "ts": message.ts, "team": message.team})
    if message.bot_id:
        data["bot_id"] = message.bot_id
        data["app_id"] = message.app_id
        data["bot_profile"] = bot_profile(state, message)
    if message.inviter:
        data["inviter"] = message.inviter
    if message.username:
        data["username"] = message.username
    if message.icon_emoji:
        data["icons"] = {"emoji": message.icon_emoji}
    if message.blocks is not None:
        data["blocks"] = message.blocks
    if message.attachments is not None:
        data["attachments"] = message.attachments
    if message.metadata is not None:
        data["metadata"] = message.metadata
    if message.files:
        data["files"] = [{"id": f, "name": state.files[f].name, "title": state.files[f].title}
                         for f in message.files if f in state.files]
        data["upload"] = True
    if message.edited:
        data["edited"] = dict(message.edited)
    if message.thread_ts:
        data["thread_ts"] = message.thread_ts
        if message.is_reply:
            parent = channel.find(message.thread_ts)
            data["parent_user_id"] = parent.user if parent else ""
            if message.reply_broadcast:
                data["subtype"] = "thread_broadcast"
                data["root"] = {"ts": message.thread_ts, "user": data["parent_user_id"]}
        else:
            replies = channel.replies(message.ts)
            if replies:
                users = list(dict.fromkeys(r.user for r in replies))
                data.update(
                    {
                        "reply_count": len(replies),
                        "reply_users_count": len(users),
                        "latest_reply": replies[-1].ts,
                        "reply_users": users[:5],
                        "is_locked": False,
                        "subscribed": False,
                    }
                )
    if message.reactions:
        data["reactions"] = [
            {"name": name, "users": list(users), "count": len(users)}
            for name, users in message.reactions.items()
        ]
    if message.pinned_by:
        data["pinned_to"] = [channel.id]
    return data


def view_json(view: View) -> dict[str, Any]:
    """A view object as views.open/update/push/publish return it."""
    p = view.payload
    data: dict[str, Any] = {
        "id": view.id,
        "team_id": view.team_id,
        "type": view.type,
        "blocks": p.get("blocks", []),
        "private_metadata": p.get("private_metadata", ""),
        "callback_id": p.get("callback_id", ""),
        "state": {"values": {}},
        "hash": view.hash,
        "title": p.get("title"),
        "clear_on_close": bool(p.get("clear_on_close", False)),
        "notify_on_close": bool(p.get("notify_on_close", False)),
        "close": p.get("close"),
        "submit": p.get("submit"),
        "previous_view_id": view.previous_view_id,
        "root_view_id": view.root_view_id,
        "app_id": view.app_id,
        "external_id": view.external_id,
        "app_installed_team_id": view.team_id,
        "bot_id": view.bot_id,
    }
    if view.type == "home":
        for key in ("title", "close", "submit", "clear_on_close", "notify_on_close"):
            data.pop(key, None)
    return data


def bookmark_json(bookmark: Bookmark) -> dict[str, Any]:
    """A bookmark object as bookmarks.add/list return it."""
    return {
        "id": bookmark.id,
        "channel_id": bookmark.channel_id,
        "title": bookmark.title,
        "link": bookmark.link,
        "emoji": bookmark.emoji,
        "icon_url": None,
        "type": "link",
        "entity_id": None,
        "date_created": bookmark.created,
        "date_updated": 0,
        "rank": bookmark.rank,
        "last_updated_by_user_id": bookmark.created_by,
        "last_updated_by_team_id": bookmark.team_id,
        "shortcut_id": None,
        "app_id": None,
    }
