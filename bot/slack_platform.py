"""Registers Slack as a chat platform: its per-org adapter (handlers/slack/outbound.SlackChat) and its
platform-only subscriptions (the weekly digest upload)."""

from __future__ import annotations

from bot.bootstrap import App
from bot.insights_delivery import SlackDigestPosting
from bot.slack_chats import slack_chat_for
from bot.slack_wiring import slack_enabled
from incident_core.insights_usecases import DIGEST_TOPIC
from incident_core.services.platforms import PlatformPlugin

NAME = "slack"


def slack_platform(app: App) -> PlatformPlugin | None:
    """The Slack plugin, or None when Slack is not configured (no signing secret, or no token / OAuth)."""
    if not slack_enabled(app):
        return None
    chat_for = slack_chat_for(app)
    return PlatformPlugin(name=NAME, label="Slack", chat_for=chat_for,
                          extra={DIGEST_TOPIC: [SlackDigestPosting(app, chat_for)]},
                          subscriber_names={"Notices": "ChatNotices"})  # its name from before: outbox rows use it
