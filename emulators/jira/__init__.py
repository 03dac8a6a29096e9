"""Jira REST API v2 emulator (projects, issues, JQL search, issue links)."""

from __future__ import annotations

from emulators.jira.emulator import JiraEmulator
from emulators.jira.jql import JqlError

__all__ = ["JiraEmulator", "JqlError"]
