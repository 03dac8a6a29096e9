"""Fixtures: one fresh emulator per test, each on its own free port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from emulators.bot_connector import BotConnectorEmulator
from emulators.github import GitHubEmulator
from emulators.jira import JiraEmulator
from emulators.openai_api import OpenAIEmulator
from emulators.slack import SlackEmulator


@pytest.fixture
def slack() -> Iterator[SlackEmulator]:
    with SlackEmulator() as emu:
        yield emu


@pytest.fixture
def gh() -> Iterator[GitHubEmulator]:
    with GitHubEmulator(tokens={"t"}) as emu:
        yield emu


@pytest.fixture
def jira_emu() -> Iterator[JiraEmulator]:
    with JiraEmulator(users={"u": "t"}) as emu:
        yield emu


@pytest.fixture
def openai_emu() -> Iterator[OpenAIEmulator]:
    with OpenAIEmulator() as emu:
        yield emu


@pytest.fixture
def connector() -> Iterator[BotConnectorEmulator]:
    with BotConnectorEmulator() as emu:
        yield emu
