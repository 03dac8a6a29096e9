"""Value types shared across the domain: status, severity, roles."""

from __future__ import annotations

from enum import StrEnum

from incident_core.errors import ValidationError


class Status(StrEnum):
    """Incident lifecycle, in order."""

    TRIGGERED = "triggered"
    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MITIGATED = "mitigated"
    RESOLVED = "resolved"
    CLOSED = "closed"

    @property
    def is_open(self) -> bool:
        return self not in (Status.RESOLVED, Status.CLOSED)


class Severity(StrEnum):
    """SEV1 is the worst."""

    SEV1 = "SEV1"
    SEV2 = "SEV2"
    SEV3 = "SEV3"
    SEV4 = "SEV4"

    @property
    def rank(self) -> int:
        """1 for SEV1 … 4 for SEV4 (lower is more severe)."""
        return int(self.value[-1])

    @classmethod
    def parse(cls, text: str | int) -> Severity:
        """Accept 'SEV2', 'sev2', '2' or 2."""
        raw = str(text).strip().upper().removeprefix("SEV")
        if raw in {"1", "2", "3", "4"}:
            return cls(f"SEV{raw}")
        raise ValidationError(f"severity must be one of SEV1, SEV2, SEV3, SEV4 (got {text!r})")


class IncidentRole(StrEnum):
    """Roles held by people during one incident."""

    COMMANDER = "commander"
    COMMUNICATIONS = "communications"
    SCRIBE = "scribe"

    @classmethod
    def parse(cls, text: str) -> IncidentRole:
        """Accept the role name or a short alias (ic, comms)."""
        aliases = {"ic": "commander", "comms": "communications", "comm": "communications"}
        raw = aliases.get(text.strip().lower(), text.strip().lower())
        try:
            return cls(raw)
        except ValueError:
            raise ValidationError(
                f"role must be one of commander, communications (comms), scribe (got {text!r})"
            ) from None


class ActionGate(StrEnum):
    """What a requested action waits for before it may run (`ActionRequested.awaiting`)."""

    CONFIRMATION = "confirmation"  # medium risk: the requester confirms
    APPROVAL = "approval"  # high risk: a second person, a commander, approves


class OrgRole(StrEnum):
    """RBAC roles a member holds in an org, weakest first."""

    VIEWER = "viewer"
    RESPONDER = "responder"
    COMMANDER = "commander"
    ADMIN = "admin"

    @property
    def level(self) -> int:
        return [OrgRole.VIEWER, OrgRole.RESPONDER, OrgRole.COMMANDER, OrgRole.ADMIN].index(self)
