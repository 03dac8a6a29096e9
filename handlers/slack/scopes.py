"""The bot scopes each Slack Web API method and event subscription needs (checked against app_manifest.yml)."""

from __future__ import annotations

METHOD_SCOPES: dict[str, set[str]] = {
    "auth_test": set(),
    "bookmarks_add": {"bookmarks:write"},
    "bookmarks_list": {"bookmarks:read"},
    "chat_postMessage": {"chat:write", "chat:write.public"},
    "chat_postEphemeral": {"chat:write"},
    "chat_update": {"chat:write"},
    "conversations_archive": {"channels:manage", "groups:write"},
    "conversations_create": {"channels:manage", "groups:write"},
    "conversations_history": {"channels:history", "groups:history"},
    "conversations_info": {"channels:read", "groups:read"},
    "conversations_invite": {"channels:manage", "groups:write"},
    "conversations_join": {"channels:join"},
    "conversations_list": {"channels:read", "groups:read"},
    "conversations_open": {"im:write"},
    "conversations_replies": {"channels:history", "groups:history"},
    "conversations_setPurpose": {"channels:manage", "groups:write"},
    "conversations_setTopic": {"channels:manage", "groups:write"},
    "files_completeUploadExternal": {"files:write"},
    "files_getUploadURLExternal": {"files:write"},
    "files_info": {"files:read"},
    "pins_add": {"pins:write"},
    "pins_list": {"pins:read"},
    "users_info": {"users:read"},
    "views_open": set(),
    "views_publish": set(),
    "views_push": set(),
    "views_update": set(),
}

EVENT_SCOPES: dict[str, set[str]] = {
    "app_home_opened": set(),
    "member_joined_channel": {"channels:read", "groups:read"},
    "message.channels": {"channels:history"},
    "message.groups": {"groups:history"},
    "reaction_added": {"reactions:read"},
    "reaction_removed": {"reactions:read"},
}

COMMAND_SCOPES = {"commands"}
