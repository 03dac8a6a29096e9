"""Commands: imperative requests to the Incident aggregate; time and ids arrive on them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from incident_core.model import IncidentRole, Severity, Status


@dataclass(frozen=True, kw_only=True)
class Command:
    """Who asks, about which incident, when."""

    org_id: str
    incident_id: str
    actor: str
    occurred_at: datetime
    meta: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, kw_only=True)
class DeclareIncident(Command):
    number: int
    title: str
    severity: Severity = Severity.SEV3
    status: Status = Status.INVESTIGATING
    project_id: str | None = None
    source: str = "chat"
    commander: str | None = None
    summary: str = ""


@dataclass(frozen=True, kw_only=True)
class ChangeStatus(Command):
    status: Status
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class ChangeSeverity(Command):
    severity: Severity
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class AssignRole(Command):
    role: IncidentRole
    assignee: str


@dataclass(frozen=True, kw_only=True)
class RenameIncident(Command):
    title: str


@dataclass(frozen=True, kw_only=True)
class AddNote(Command):
    text: str


@dataclass(frozen=True, kw_only=True)
class AttachSignal(Command):
    signal: dict[str, Any]
    reason: str
    matched_key: str | None = None


@dataclass(frozen=True, kw_only=True)
class ResolveSignal(Command):
    fingerprint: str
    title: str
    reason: str
    ended_at: str | None = None
    source: str = ""
    note: str = ""  # e.g. "PagerDuty: incident resolved by Dana"


@dataclass(frozen=True, kw_only=True)
class CaptureMessage(Command):
    platform: str
    channel: str
    message_id: str
    author: str
    text: str
    thread_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class CaptureEdit(Command):
    platform: str
    channel: str
    message_id: str
    text: str


@dataclass(frozen=True, kw_only=True)
class CaptureDeletion(Command):
    platform: str
    channel: str
    message_id: str


@dataclass(frozen=True, kw_only=True)
class CaptureReaction(Command):
    platform: str
    message_id: str
    emoji: str
    user: str
    removed: bool = False


@dataclass(frozen=True, kw_only=True)
class CaptureJoin(Command):
    platform: str
    user: str


@dataclass(frozen=True, kw_only=True)
class CaptureInteraction(Command):
    platform: str
    kind: str
    name: str
    text: str = ""


@dataclass(frozen=True, kw_only=True)
class RecordRoom(Command):
    platform: str
    room_id: str
    room_name: str
    message_id: str | None = None
