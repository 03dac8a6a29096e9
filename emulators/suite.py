"""All emulators at once, with the environment variables that point the app at them."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Self

from emulators.bot_connector import BotConnectorEmulator
from emulators.github import GitHubEmulator
from emulators.jira import JiraEmulator
from emulators.openai_api import OpenAIEmulator
from emulators.server import EmulatorServer
from emulators.slack import SlackEmulator

GITHUB_TOKEN = "ghp_emulator"
JIRA_USER, JIRA_TOKEN = "revenant@example.com", "jira-emulator-token"
OPENAI_KEY = "sk-emulator"


class EmulatorSuite:
    """Slack, GitHub, Jira, OpenAI and the Bot Connector started together (each in its own thread)."""

    def __init__(self, *, clock: Callable[[], float] | None = None) -> None:
        self.slack = SlackEmulator(clock=clock)
        self.github = GitHubEmulator(tokens={GITHUB_TOKEN}, clock=clock)
        self.jira = JiraEmulator(users={JIRA_USER: JIRA_TOKEN}, clock=clock)
        self.openai = OpenAIEmulator(api_keys={OPENAI_KEY}, clock=clock)
        self.connector = BotConnectorEmulator(clock=clock)

    @property
    def servers(self) -> tuple[EmulatorServer, ...]:
        """Every emulator of the suite."""
        return (self.slack, self.github, self.jira, self.openai, self.connector)

    def start(self) -> Self:
        """Start every emulator (stopping the started ones if one fails)."""
        try:
            for server in self.servers:
                server.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every emulator."""
        for server in self.servers:
            server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def environ(self) -> dict[str, str]:
        """The app's configuration variables (see ARCHITECTURE.md) pointing at the emulators."""
        return {
            "SLACK_API_URL": self.slack.api_url,
            "SLACK_BOT_TOKEN": self.slack.bot_token,
            "SLACK_CLIENT_ID": self.slack.client_id,
            "SLACK_CLIENT_SECRET": self.slack.client_secret,
            "GITHUB_API_URL": self.github.base_url,
            "GITHUB_TOKEN": GITHUB_TOKEN,
            "JIRA_URL": self.jira.base_url,
            "JIRA_USER": JIRA_USER,
            "JIRA_TOKEN": JIRA_TOKEN,
            "OPENAI_BASE_URL": self.openai.api_base,
            "OPENAI_API_KEY": OPENAI_KEY,
        }
