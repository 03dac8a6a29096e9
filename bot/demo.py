"""`revenant demo`: a scripted incident, offline, on the embedded defaults in a fresh data dir."""

from __future__ import annotations

import json
import tempfile
import time
import urllib.error
import urllib.request
from importlib import resources
from pathlib import Path
from typing import Any

import click

from bot.bootstrap import App, bootstrap
from bot.demo_guidance import show_guidance
from bot.demo_postmortem import PostmortemDemo, postmortem_demo
from bot.local_server import BackgroundServer
from bot.settings import Settings
from incident_core import usecases as uc
from incident_core.model import IncidentRole, OrgRole, Severity, Status
from incident_core.timeline import render

ALICE, BOB, CAROL = "demo:alice", "demo:bob", "demo:carol"
PAYLOADS = ("alertmanager", "grafana", "datadog", "pagerduty", "generic")


def run_demo(*, data_dir: str | None = None) -> None:
    """Run the scripted incident and print what a person would read."""
    started = time.monotonic()
    root = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="revenant-demo-"))
    with postmortem_demo(root) as pm_demo:
        settings = Settings(data_dir=root, database_url=None, **pm_demo.settings())  # type: ignore[call-arg]
        app = bootstrap(settings, clock=pm_demo.clock, github_write_pause=0)
        try:
            with BackgroundServer(app) as server:
                _script(app, server, pm_demo)
        finally:
            app.close()
    click.echo(f"\ndemo data kept in {root} ({time.monotonic() - started:.1f} s); try\n"
               f"  REVENANT_DATA_DIR={root} .venv/bin/revenant incidents timeline --org acme-demo INC-1")


def _say(who: str, text: str) -> None:
    click.echo(f"  {who:<12} {text}")


def payload(name: str) -> dict[str, Any]:
    """A shipped sample webhook body."""
    return json.loads(resources.files("bot").joinpath(f"demo_data/payloads/{name}.json").read_text())


def post(url: str, token: str, body: object) -> tuple[int, dict[str, Any]]:
    """POST a JSON webhook through real HTTP, as an alert sender would."""
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _script(app: App, server: BackgroundServer, pm_demo: PostmortemDemo) -> None:
    org = app.directory.create_org("acme-demo")
    pm_demo.configure(app, org.id)
    token = app.directory.issue_token(org.id)
    app.directory.set_role(org.id, ALICE, OrgRole.COMMANDER, "alice")
    app.directory.set_role(org.id, BOB, OrgRole.RESPONDER, "bob")
    app.directory.set_role(org.id, CAROL, OrgRole.VIEWER, "carol")
    deps = app.deps
    click.echo(f"org acme-demo ({org.id}); app listening on {server.url}\n")
    click.echo("signals arrive by webhook:")
    for source in PAYLOADS:
        status, answer = post(f"{server.url}/hooks/{source}", token, payload(source))
        for s in answer.get("signals", []):
            _say(source, f"HTTP {status} → {s['incident_id'] or '-'}: {s['reason']}")
    status, answer = post(f"{server.url}/hooks/alertmanager", token, payload("alertmanager"))
    _say("alertmanager", f"HTTP {status} → redelivery: {answer['signals'][0]['reason'][:60]}…")
    status, answer = post(f"{server.url}/hooks/alertmanager", token, {"version": "4", "alerts": "oops"})
    _say("(bad sender)", f"HTTP {status} → {answer.get('field')}: {answer.get('message')}")

    inc = app.queries.get(org.id, "INC-1")
    assert inc is not None
    iid = inc.incident_id
    click.echo(f"\nresponders work {inc.human_id} “{inc.title}”:")
    pm_demo.clock.advance(2)
    uc.change_status(deps=deps, org_id=org.id, incident_id=iid, actor=ALICE, status=Status.INVESTIGATING,
                     note="acknowledged, looking")
    _say("alice", "/revenant status investigating acknowledged, looking")
    uc.assign_role(deps=deps, org_id=org.id, incident_id=iid, actor=ALICE, role=IncidentRole.COMMANDER,
                   assignee=ALICE)
    uc.assign_role(deps=deps, org_id=org.id, incident_id=iid, actor=ALICE, role=IncidentRole.SCRIBE, assignee=BOB)
    _say("alice", "/revenant role commander @alice · /revenant role scribe @bob")
    uc.add_note(deps=deps, org_id=org.id, incident_id=iid, actor=BOB,
                text="checkout pods exhaust the payments-db connection pool since the 09:50 deploy")
    _say("bob", "/revenant note checkout pods exhaust the payments-db connection pool since the 09:50 deploy")
    pm_demo.clock.advance(4)
    pm_demo.key_moment(app, org.id, iid, BOB, "pool at 198/200 on every checkout pod since the 09:50 deploy", ALICE)
    _say("bob", "pool at 198/200 on every checkout pod since the 09:50 deploy   (alice reacts 📌: a key moment)")
    try:
        uc.add_note(deps=deps, org_id=org.id, incident_id=iid, actor=CAROL, text="+1")
    except Exception as exc:  # noqa: BLE001 — the demo shows the refusal
        _say("carol", f"/revenant note +1  → refused: {exc}")
    uc.change_severity(deps=deps, org_id=org.id, incident_id=iid, actor=ALICE, severity=Severity.SEV2,
                       reason="errors limited to one region")
    _say("alice", "/revenant sev 2")
    show_guidance(app, org.id, iid)
    for status_, who, note in ((Status.IDENTIFIED, ALICE, "pool exhaustion after the 09:50 deploy"),
                               (Status.MITIGATED, BOB, "rolled back checkout to v412")):
        pm_demo.clock.advance(9)
        uc.change_status(deps=deps, org_id=org.id, incident_id=iid, actor=who, status=status_, note=note)
        _say(who.split(":")[1], f"/revenant status {status_.value} {note}")
    uc.add_note(deps=deps, org_id=org.id, incident_id=iid, actor=BOB,
                text="follow-up: alert when the checkout connection pool passes 90%")
    _say("bob", "/revenant note follow-up: alert when the checkout connection pool passes 90%")
    pm_demo.clock.advance(18)
    status, answer = post(f"{server.url}/hooks/alertmanager", token, payload("alertmanager-resolved"))
    _say("alertmanager", f"HTTP {status} → {answer['signals'][0]['reason']}")
    uc.change_status(deps=deps, org_id=org.id, incident_id=iid, actor=ALICE, status=Status.RESOLVED,
                     note="error rate back under 0.1% for 15 min")
    _say("alice", "/revenant status resolved error rate back under 0.1% for 15 min")
    try:
        uc.change_status(deps=deps, org_id=org.id, incident_id=iid, actor=ALICE, status=Status.MITIGATED)
    except Exception as exc:  # noqa: BLE001
        _say("alice", f"/revenant status mitigated  → refused: {exc}")

    pm_demo.act(app, org.id, iid, editor=BOB, approver=ALICE)

    click.echo("\nincidents:")
    for s in app.queries.list(org.id):
        click.echo(f"  {s.human_id:<6} {s.severity.value}  {s.status.value:<10} {s.signal_count} signal(s)  {s.title}")
    final = app.queries.get(org.id, "INC-1")
    assert final is not None
    click.echo(f"\ntimeline of {final.human_id} (commander {final.commander}):")
    for line in render(app.queries.timeline(org.id, iid)):
        click.echo("  " + line)
