"""Attach every Slack listener and the tenant middleware to a Bolt AsyncApp."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from handlers.slack.listeners import (
    actions,
    buttons,
    capture,
    commands,
    home,
    postmortem,
    reminders,
    suggestions,
    views,
)
from handlers.slack.middleware import tenant_middleware
from handlers.slack.services import SlackServices

LISTENER_MODULES = (postmortem, reminders, commands, capture, home, buttons, views, suggestions, actions)


def register(app: AsyncApp, services: SlackServices) -> None:
    """Middleware first (it resolves the org), then one listener module per kind."""
    app.middleware(tenant_middleware(services))
    for module in LISTENER_MODULES:
        module.register(app, services)
