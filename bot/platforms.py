"""The chat platforms this build knows: each registers itself the same way, with a function that returns
its plugin for the app (or None when it is not configured). Adding a platform: an adapter package under
handlers/, a `<name>_platform.py` here, and one line below (docs/architecture.md, "Adding a chat platform")."""

from __future__ import annotations

from collections.abc import Callable

from bot.bootstrap import App
from bot.slack_platform import slack_platform
from bot.teams_platform import teams_platform
from incident_core.services.platforms import PlatformPlugin, Platforms

REGISTERED: tuple[Callable[[App], PlatformPlugin | None], ...] = (slack_platform, teams_platform)


def chat_platforms(app: App) -> Platforms:
    """The registered platforms configured in this app, in registration order."""
    return Platforms([p for p in (register(app) for register in REGISTERED) if p is not None])
