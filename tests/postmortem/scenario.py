"""An incident built in memory with the pure aggregate: the shared scenario of the postmortem tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from incident_core import commands as cmd
from incident_core.aggregate import decide
from incident_core.events import Event
from incident_core.model import IncidentRole, Severity, Status
from incident_core.state import IncidentState, apply_all

ORG, INC = "org-1", "inc-0000000000000001"
T0 = datetime(2026, 11, 27, 9, 52, tzinfo=UTC)
ALICE, BOB = "slack:UALICE", "slack:UBOB"


@dataclass
class Memory:
    """decide + apply without storage; `minutes` moves the scripted clock."""

    state: IncidentState | None = None
    events: list[Event] = field(default_factory=list)
    minutes: float = 0.0

    def now(self) -> datetime:
        return T0 + timedelta(minutes=self.minutes)

    def run(self, command_type: type, *, actor: str = ALICE, after: float = 1.0, **fields: Any) -> list[Event]:
        self.minutes += after
        command = command_type(org_id=ORG, incident_id=INC, actor=actor, occurred_at=self.now(), **fields)
        made = decide(self.state, command)
        self.state = apply_all(self.state, made)
        self.events += made
        return made


def signal(title: str, *, service: str = "checkout", fingerprint: str = "fp1", kind: str = "alert",
           url: str | None = None, starts: datetime | None = None) -> dict[str, Any]:
    return {"source": "alertmanager", "kind": kind, "status": "firing", "severity": "critical", "service": service,
            "title": title, "fingerprint": fingerprint, "correlation_keys": [f"service={service}"],
            "starts_at": (starts or T0).isoformat(), "links": [{"title": "Grafana", "url": url}] if url else [],
            "values": []}


def resolved_incident() -> Memory:
    """Declared from an alert, worked, pinned, acted on, resolved: the full story a draft tells."""
    m = Memory()
    m.minutes = -1.0
    m.run(cmd.DeclareIncident, actor="signal:alertmanager", after=1.0, number=7, title="Checkout latency spike",
          severity=Severity.SEV1, status=Status.TRIGGERED, source="signal:alertmanager")
    m.run(cmd.AttachSignal, actor="signal:alertmanager", after=0.0, reason="opened INC-7",
          signal=signal("checkout p99 above 2s", url="https://grafana.example/d/1", starts=T0 - timedelta(minutes=6)))
    m.run(cmd.RecordRoom, actor="system", platform="slack", room_id="C1", room_name="inc-20261127-7-checkout")
    m.run(cmd.ChangeStatus, status=Status.INVESTIGATING, note="looking")
    m.run(cmd.AssignRole, role=IncidentRole.COMMANDER, assignee=ALICE)
    m.run(cmd.AssignRole, role=IncidentRole.SCRIBE, assignee=BOB)
    m.run(cmd.AttachSignal, actor="signal:datadog", reason="same service", after=2,
          signal=signal("payments-db connections at 198/200", service="payments-db", fingerprint="fp2"))
    m.run(cmd.CaptureMessage, actor=BOB, platform="slack", channel="C1", message_id="111.1", author=BOB,
          text="db pool is at 198/200 since the 09:50 deploy")
    m.run(cmd.CaptureReaction, actor=ALICE, platform="slack", message_id="111.1", emoji="pushpin", user=ALICE)
    m.run(cmd.AddNote, actor=BOB, text="checkout pods exhaust the payments-db pool after the 09:50 deploy")
    m.run(cmd.ChangeSeverity, severity=Severity.SEV2, reason="one region only")
    m.run(cmd.ChangeStatus, status=Status.IDENTIFIED, note="pool exhaustion after the 09:50 deploy", after=5)
    m.run(cmd.AddNote, actor=BOB, text="follow-up: add a connection pool saturation alert")
    m.run(cmd.ChangeStatus, actor=BOB, status=Status.MITIGATED, note="rolled back checkout to v412", after=10)
    m.run(cmd.ChangeStatus, status=Status.RESOLVED, note="error rate under 0.1% for 15 min", after=20)
    return m
