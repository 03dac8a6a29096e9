"""Typed views of an org's and a project's settings.

The directory stores each org's and project's settings as one JSON document, written section by
section by `revenant org config` (bot/org_config.py validates every section before it is stored).
Readers take these views instead of reaching into the mapping by string keys: each section is read
once, with the defaults the product has always used, and a section of the wrong shape reads as
unset rather than failing a delivery. Writers keep merging sections into the stored document.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

DEFAULT_ARCHIVE_AFTER = timedelta(hours=24)


def _section(raw: Mapping[str, Any], key: str) -> dict[str, Any]:
    found = raw.get(key)
    return dict(found) if isinstance(found, Mapping) else {}


def _text(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


@dataclass(frozen=True)
class ChatSettings:
    """One platform's section (`slack:`, `teams:`); None means "not set here"."""

    auto_channel: bool | None = None  # open a room for incidents that signals declared
    announce_channel: str | None = None  # where new rooms are announced
    incident_channel: str | None = None  # Teams: the channel incident threads open in

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ChatSettings:
        auto = raw.get("auto_channel")
        return cls(auto_channel=auto if isinstance(auto, bool) else None,
                   announce_channel=_text(raw.get("announce_channel")),
                   incident_channel=_text(raw.get("incident_channel")))


@dataclass(frozen=True)
class ProjectSettings:
    """A project's own settings; chat rooms open for its signal-declared incidents unless it says no."""

    auto_channel: bool = True
    responders: tuple[str, ...] = ()  # platform user ids invited to each room
    teams_channel: str | None = None
    insights: dict[str, Any] = field(default_factory=dict)
    publishing: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> ProjectSettings:
        raw = raw or {}
        auto = raw.get("auto_channel", True)
        responders = raw.get("responders") or ()
        return cls(auto_channel=bool(auto),
                   responders=tuple(str(r) for r in responders) if isinstance(responders, list | tuple) else (),
                   teams_channel=_text(raw.get("teams_channel")), insights=_section(raw, "insights"),
                   publishing=_section(raw, "publishing"))


@dataclass(frozen=True)
class OrgSettings:
    """An org's settings by section. Sections with their own parser (routing, publishing, reminders,
    postmortem drafts, the digest) stay mappings here and are parsed where they are used."""

    slack: ChatSettings = field(default_factory=ChatSettings)
    teams: ChatSettings = field(default_factory=ChatSettings)
    archive_after: timedelta = DEFAULT_ARCHIVE_AFTER  # `rooms.archive_after_hours`: resolved rooms archive after
    routing: dict[str, Any] = field(default_factory=dict)
    publishing: dict[str, Any] = field(default_factory=dict)
    reminders: dict[str, Any] = field(default_factory=dict)
    postmortem: dict[str, Any] = field(default_factory=dict)
    insights: dict[str, Any] = field(default_factory=dict)
    knowledge_store: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> OrgSettings:
        raw = raw or {}
        hours = _section(raw, "rooms").get("archive_after_hours")
        try:
            after = DEFAULT_ARCHIVE_AFTER if hours is None else timedelta(hours=max(0.0, float(hours)))
        except (TypeError, ValueError):
            after = DEFAULT_ARCHIVE_AFTER
        return cls(slack=ChatSettings.from_dict(_section(raw, "slack")),
                   teams=ChatSettings.from_dict(_section(raw, "teams")), archive_after=after,
                   routing=_section(raw, "routing"), publishing=_section(raw, "publishing"),
                   reminders=_section(raw, "reminders"), postmortem=_section(raw, "postmortem"),
                   insights=_section(raw, "insights"), knowledge_store=_section(raw, "knowledge_store"))

    @property
    def recurrence_window(self) -> timedelta | None:
        """`insights.recurrence_days`, when set."""
        days = self.insights.get("recurrence_days")
        return timedelta(days=int(days)) if isinstance(days, int) and days > 0 else None

    @property
    def auto_resolves(self) -> bool:
        """Whether any routed project sets `auto_resolve_after_minutes`."""
        projects = self.routing.get("projects") or ()
        return any(isinstance(p, Mapping) and "auto_resolve_after_minutes" in p for p in projects)
