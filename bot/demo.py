"""`revenant demo`: a scripted incident, offline, on the embedded defaults in a fresh data dir."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import click

from bot.bootstrap import App, bootstrap
from bot.settings import Settings
from incident_core import commands as cmd
from incident_core import usecases as uc
from incident_core.model import IncidentRole, OrgRole, Severity, Status
from incident_core.timeline import render

ALICE, BOB, CAROL = "demo:alice", "demo:bob", "demo:carol"


def run_demo(*, data_dir: str | None = None) -> None:
    """Run the scripted incident and print what a person would read."""
    started = time.monotonic()
    root = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="revenant-demo-"))
    settings = Settings(data_dir=root, database_url=None)  # type: ignore[call-arg]
    app = bootstrap(settings)
    try:
        _script(app)
    finally:
        app.close()
    click.echo(f"\ndemo data kept in {root} ({time.monotonic() - started:.1f} s)")


def _say(who: str, text: str) -> None:
    click.echo(f"  {who:<10} {text}")


def _script(app: App) -> None:
    org = app.directory.create_org("acme-demo")
    project = app.directory.create_project(org.id, "payments")
    app.directory.set_role(org.id, ALICE, OrgRole.COMMANDER, "alice")
    app.directory.set_role(org.id, BOB, OrgRole.RESPONDER, "bob")
    app.directory.set_role(org.id, CAROL, OrgRole.VIEWER, "carol")
    deps = app.deps
    click.echo(f"org acme-demo ({org.id}), project payments\n")

    declared = uc.declare_incident(deps=deps, org_id=org.id, actor=ALICE, title="Checkout latency spike",
                                   severity=Severity.SEV2, project_id=project.id, commander=ALICE)
    inc = declared.state
    _say("alice", f"/revenant declare Checkout latency spike sev2  → {inc.human_id} opened")
    for title, value in (("p99 latency 2.4s on checkout-api", 2.4), ("p99 latency 3.1s on checkout-api", 3.1)):
        signal = {"source": "alertmanager", "kind": "alert", "status": "firing", "severity": "error",
                  "title": title, "service": "checkout-api", "fingerprint": "a1b2c3",
                  "correlation_keys": ["fingerprint=a1b2c3", "service=checkout-api"],
                  "values": [{"name": "p99_latency_seconds", "value": value}]}
        uc.apply_command(deps=deps, command=cmd.AttachSignal(
            org_id=org.id, incident_id=inc.incident_id, actor="signal:alertmanager",
            occurred_at=deps.clock.now(), signal=signal, reason="same fingerprint=a1b2c3"), check_role=False)
        _say("alerts", f"[error] {title} → attached to {inc.human_id}")
    uc.assign_role(deps=deps, org_id=org.id, incident_id=inc.incident_id, actor=ALICE,
                   role=IncidentRole.SCRIBE, assignee=BOB)
    _say("alice", "/revenant role scribe @bob")
    uc.add_note(deps=deps, org_id=org.id, incident_id=inc.incident_id, actor=BOB,
                text="DB connection pool saturated on payments-db since 14:02")
    _say("bob", "/revenant note DB connection pool saturated on payments-db since 14:02")
    try:
        uc.add_note(deps=deps, org_id=org.id, incident_id=inc.incident_id, actor=CAROL, text="+1")
    except Exception as exc:  # noqa: BLE001 — the demo shows the refusal
        _say("carol", f"/revenant note +1  → refused: {exc}")
    uc.change_severity(deps=deps, org_id=org.id, incident_id=inc.incident_id, actor=ALICE,
                       severity=Severity.SEV1, reason="checkout error rate above 5%")
    _say("alice", "/revenant sev 1")
    for status, who, note in ((Status.IDENTIFIED, ALICE, "pool exhaustion after the 14:00 deploy"),
                              (Status.MITIGATED, BOB, "rolled back checkout-api to v412"),
                              (Status.RESOLVED, ALICE, "latency back under 300 ms for 15 min")):
        uc.change_status(deps=deps, org_id=org.id, incident_id=inc.incident_id, actor=who, status=status,
                         note=note)
        _say(who.split(":")[1], f"/revenant status {status.value} {note}")
    try:
        uc.change_status(deps=deps, org_id=org.id, incident_id=inc.incident_id, actor=ALICE,
                         status=Status.MITIGATED)
    except Exception as exc:  # noqa: BLE001
        _say("alice", f"/revenant status mitigated  → refused: {exc}")

    final = app.queries.get(org.id, inc.human_id)
    assert final is not None
    click.echo(f"\n{final.human_id} “{final.title}” — {final.severity.value}, {final.status.value}, "
               f"{final.signal_count} signals, commander {final.commander}")
    click.echo("timeline:")
    for line in render(app.queries.timeline(org.id, inc.incident_id)):
        click.echo("  " + line)
