"""Slack Web API emulator (stateful), split into state, method families and rendering."""

from __future__ import annotations

from emulators.slack.emulator import SlackEmulator
from emulators.slack.state import Channel, Message, SlackError, Team, User

__all__ = ["Channel", "Message", "SlackEmulator", "SlackError", "Team", "User"]
