"""Local HTTP emulators of Slack, GitHub, Jira, OpenAI and the Bot Connector (imported lazily)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from emulators.bot_connector import BotConnectorEmulator
    from emulators.github import GitHubEmulator
    from emulators.jira import JiraEmulator
    from emulators.openai_api import OpenAIEmulator
    from emulators.server import EmulatorServer
    from emulators.slack import SlackEmulator
    from emulators.suite import EmulatorSuite

_EXPORTS = {
    "BotConnectorEmulator": "emulators.bot_connector",
    "EmulatorServer": "emulators.server",
    "GitHubEmulator": "emulators.github",
    "JiraEmulator": "emulators.jira",
    "OpenAIEmulator": "emulators.openai_api",
    "SlackEmulator": "emulators.slack",
    "EmulatorSuite": "emulators.suite",
}
__all__ = [
    "BotConnectorEmulator",
    "EmulatorServer",
    "EmulatorSuite",
    "GitHubEmulator",
    "JiraEmulator",
    "OpenAIEmulator",
    "SlackEmulator",
]


def __getattr__(name: str) -> Any:
    """Import an emulator class on first use so `import emulators` stays cheap."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'emulators' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
