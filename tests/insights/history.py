"""A seeded incident history with known numbers, written through the real use cases (signals, status changes)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from bot.bootstrap import App
from incident_core import postmortem_usecases as pmu
from incident_core import usecases as uc
from incident_core.intake import intake_signals
from incident_core.model import Status
from incident_core.recurrence import note_recurrence
from incident_core.signals import Signal, SignalKind, SignalSeverity, SignalStatus, correlation_keys_for
from storage.insights_queries import SqlIncidentHistory

NOW = datetime(2026, 6, 1, 0, 0, tzinfo=UTC)  # a Monday
SERVICES = ("checkout", "payments", "search", "auth")
SEVERITIES = (SignalSeverity.CRITICAL, SignalSeverity.ERROR, SignalSeverity.WARNING)
RESPONDER = "slack:UHISTORY"


@dataclass
class StepClock:
    """A clock the seeding moves by hand."""

    at: datetime = NOW

    def now(self) -> datetime:
        return self.at


def alert_of(i: int) -> str | None:
    """checkout: HighLatency (i % 8 == 0) or ErrorRate; payments: DBConnections; search: one-off shards; auth: none."""
    return {0: "HighLatency" if i % 8 == 0 else "ErrorRate", 1: "DBConnections", 2: f"Shard{i}", 3: None}[i % 4]


def signal(org_id: str, i: int, at: datetime, *, project_id: str | None = None, service: str | None = None,
           alert: str | None = None) -> Signal:
    """The alert that opens incident i of the history."""
    service = service or SERVICES[i % 4]
    alert = alert if alert is not None else alert_of(i)
    fingerprint = f"fp-{i}-{at.timestamp():.0f}"
    return Signal(org_id=org_id, project_id=project_id, source="generic", kind=SignalKind.ALERT,
                  status=SignalStatus.FIRING, severity=SEVERITIES[i % 3], service=service,
                  title=f"{alert or 'Alert'} on {service}", fingerprint=fingerprint, starts_at=at,
                  correlation_keys=correlation_keys_for(fingerprint=fingerprint, service=service, alertname=alert))


def open_incident(app: App, clock: StepClock, org_id: str, i: int, opened: datetime, *, ack_minutes: int,
                  resolve_minutes: int | None, **kw: object) -> str:
    """Open by signal at `opened`, acknowledge after `ack_minutes`, resolve after `resolve_minutes` (None: open)."""
    clock.at = opened
    project_id = kw.get("project_id")
    outcome = intake_signals(deps=app.deps, org_id=org_id, signals=[signal(org_id, i, opened, **kw)],  # type: ignore[arg-type]
                             token_project_id=str(project_id) if project_id else None)[0]
    assert outcome.opened, outcome.reason
    incident_id = str(outcome.incident_id)
    clock.at = opened + timedelta(minutes=ack_minutes)
    uc.change_status(deps=app.deps, org_id=org_id, incident_id=incident_id, actor=RESPONDER,
                     status=Status.INVESTIGATING)
    if resolve_minutes is not None:
        clock.at = opened + timedelta(minutes=resolve_minutes)
        uc.change_status(deps=app.deps, org_id=org_id, incident_id=incident_id, actor=RESPONDER,
                         status=Status.RESOLVED)
    return incident_id


def seed(app: App, clock: StepClock, org_id: str, n: int = 200, *, now: datetime = NOW,
         project_id: str | None = None, every: timedelta = timedelta(hours=12)) -> list[str]:
    """Incident i opens at now - n × every + i × every (12 h by default) on SERVICES[i % 4]; acknowledged after
    (i % 5 + 1) min; resolved after (i % 7 + 1) × 10 min unless i % 10 == 9 (those stay open)."""
    start = now - every * n
    return [open_incident(app, clock, org_id, i, start + every * i, ack_minutes=i % 5 + 1,
                          resolve_minutes=None if i % 10 == 9 else (i % 7 + 1) * 10, project_id=project_id)
            for i in range(n)]


def approve_postmortem(app: App, clock: StepClock, org_id: str, incident_id: str,
                       items: list[dict[str, str]], commander: str) -> None:
    """Draft, fill the action items, submit and approve (publishing wherever the org is configured to)."""
    base = {"deps": app.deps, "org_id": org_id, "incident_id": incident_id}
    pmu.draft_postmortem(**base, queries=app.queries, actor=commander)
    pmu.save_edits(**base, actor=commander, sections={"summary": "The service slowed down; we scaled it."},
                   action_items=[{"priority": "P2", "due": "2026-07-01", "kind": "prevent", **i} for i in items])
    pmu.submit_postmortem(**base, queries=app.queries, actor=commander)
    pmu.approve_postmortem(**base, queries=app.queries, actor=commander)


def recurring(app: App, org_id: str, commander: str, other_org: str,
              at: tuple[datetime, datetime] | None = None) -> None:
    """INC-1 (3 days ago; approved postmortem with 2 action items) and INC-2 (yesterday), both HighLatency on
    checkout, resolved; the other org gets the same alert once. The app keeps its own clock afterwards."""
    now = datetime.now(UTC)
    first_at, second_at = at or (now - timedelta(days=3), now - timedelta(days=1))
    clock = StepClock(now)
    clocked = replace(app, deps=replace(app.deps, clock=clock))
    first = open_incident(clocked, clock, org_id, 0, first_at, ack_minutes=2, resolve_minutes=30)
    approve_postmortem(clocked, clock, org_id, first, [{"title": "Autoscale <checkout>", "owner": "x"},
                                                       {"title": "Alert on queue depth", "owner": "x"}],
                       commander=commander)
    open_incident(clocked, clock, org_id, 8, second_at, ack_minutes=4, resolve_minutes=20)
    open_incident(clocked, clock, other_org, 16, second_at, ack_minutes=1, resolve_minutes=10)


def prior_and_open(app: App, clock: StepClock, org_id: str, days_ago: int) -> tuple[str, Callable[[int], object]]:
    """INC-1 (resolved, opened `days_ago` days before the clock) and INC-2 (open now), both HighLatency on checkout;
    the clock moves 2 minutes on. Returns INC-2's id and its recurrence check with a window of N days."""
    now = clock.at
    open_incident(app, clock, org_id, 0, now - timedelta(days=days_ago), ack_minutes=1, resolve_minutes=30,
                  project_id=None)
    current = open_incident(app, clock, org_id, 0, now, ack_minutes=1, resolve_minutes=None, project_id=None)
    clock.at = now + timedelta(minutes=2)
    history = SqlIncidentHistory(app.engine)

    def check(days: int) -> object:
        return note_recurrence(deps=app.deps, queries=app.queries, history=history, tracker=None, org_id=org_id,
                               incident_id=current, window=timedelta(days=days))

    return current, check
