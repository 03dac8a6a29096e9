"""Registers Microsoft Teams as a chat platform: its per-org adapter (handlers/teams/outbound.TeamsChat, a
room is a thread in the incident channel) and its platform-only subscriptions (the weekly digest card)."""

from __future__ import annotations

from bot.bootstrap import App
from bot.chat_cache import ChatCache
from bot.insights_delivery import TeamsDigestPosting
from bot.teams_wiring import auth_settings, build_adapter, teams_enabled, teams_roster
from handlers.teams.channels import incident_channel
from handlers.teams.ids import PLATFORM
from handlers.teams.outbound import TeamsChat
from incident_core.insights_usecases import DIGEST_TOPIC
from incident_core.services.platforms import PlatformPlugin
from storage.teams_conversations import SqlTeamsConversations
from storage.teams_people import SqlTeamsPeople


def teams_platform(app: App) -> PlatformPlugin | None:
    """The Teams plugin, or None when Teams is not served (no app id and no development flag)."""
    if not teams_enabled(app):
        return None
    adapter = build_adapter(app)
    app_id = str(auth_settings(app).APP_ID)
    store = SqlTeamsConversations(app.engine)
    people, roster = SqlTeamsPeople(app.engine), teams_roster(app)

    def build(org_id: str) -> TeamsChat | None:
        if not app.directory.bindings(org_id, PLATFORM):
            return None
        return TeamsChat(adapter, app_id=app_id, org_id=org_id, store=store,
                         channel_for=lambda state: incident_channel(directory=app.directory, store=store,
                                                                    org_id=org_id, state=state),
                         names=lambda: app.directory.display_names(org_id), people=people, roster=roster)

    # The org's tenant binding is read once per entry (bot/chat_cache.py), not for every delivered message.
    chat_for = ChatCache(build, app.chat_changes, **app.overrides.get("chat_cache", {})).get

    return PlatformPlugin(name=PLATFORM, label="Teams", chat_for=chat_for,
                          extra={DIGEST_TOPIC: [TeamsDigestPosting(app, chat_for)]})
