"""Auto-resolve reads the reminder index: an all-clear incident is looked at when its project's
auto_resolve_after passes, not by reading every configured org's open incidents on every tick (SQLite and
PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.org_config import apply_org_config
from bot.reminders import tick
from incident_core import commands as cmd
from incident_core import usecases as uc
from incident_core.model import Severity, Status
from storage import reminder_ledger
from storage.reminder_ledger import SqlReminderLedger
from tests.postmortem.test_reminders import T0

CONFIG = "routing:\n  default_project: shop\n  projects:\n    - name: shop\n      auto_resolve_after_minutes: 15\n"


def _incident(app, org: str, *, all_clear: bool) -> str:  # type: ignore[no-untyped-def]
    """A SEV3 incident in the org's shop project (its default), all clear (PagerDuty resolved it) or not."""
    project = app.directory.project(org, "shop")
    incident = uc.declare_incident(deps=app.deps, org_id=org, actor="u:a", title="Checkout 5xx",
                                   severity=Severity.SEV3, project_id=project.id if project else None,
                                   check_role=False).state.incident_id
    if all_clear:
        uc.apply_command(deps=app.deps, check_role=False, command=cmd.ResolveSignal(
            org_id=org, incident_id=incident, actor="signal:pagerduty", occurred_at=app.deps.clock.now(),
            fingerprint="pd-1", title="Checkout 5xx", reason="resolved", source="pagerduty",
            note="the PagerDuty incident was resolved"))
    return incident


def test_auto_resolve_looks_only_at_due_incidents_and_resolves_each_once(
        clocked: tuple, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app, clock = clocked
    tag = tmp_path.name[-10:]
    (tmp_path / "org.yaml").write_text(CONFIG)
    resolving, quiet, untouched = (app.directory.create_org(f"ar-{n}-{tag}").id for n in ("res", "quiet", "no"))
    for org in (resolving, quiet):
        apply_org_config(app, org, tmp_path / "org.yaml")
    app.directory.create_project(untouched, "shop")
    mine = _incident(app, resolving, all_clear=True)
    firing = _incident(app, quiet, all_clear=False)  # configured, but still firing: never resolves itself
    other = _incident(app, untouched, all_clear=True)  # all clear, but its org set no auto_resolve_after
    clock.at = T0 + timedelta(minutes=1)
    tick(app, use_leader=False)  # the first look at each new incident

    looked: list[str] = []
    real_look = reminder_ledger.look_batch
    monkeypatch.setattr(reminder_ledger, "look_batch", lambda conn, batch: (
        looked.extend(org for org, _seqs, _decide in batch), real_look(conn, batch))[1])
    read_projects: list[str] = []
    real_projects = app.directory.projects
    monkeypatch.setattr(app.directory, "projects", lambda org: (read_projects.append(org), real_projects(org))[1])
    ours = {resolving, quiet, untouched}

    clock.at = T0 + timedelta(minutes=14)
    tick(app, use_leader=False)
    assert ours & set(looked) == set() and ours & set(read_projects) == set()  # nothing due: no org touched
    assert app.queries.get(resolving, mine).status is not Status.RESOLVED  # type: ignore[union-attr]

    clock.at = T0 + timedelta(minutes=16)
    tick(app, use_leader=False)
    assert ours & set(looked) == {resolving}  # its all clear + 15 min came: only that org is looked at
    assert app.queries.get(resolving, mine).status is Status.RESOLVED  # type: ignore[union-attr]
    changes = [e for e in app.queries.timeline(resolving, mine) if e.type_name == "StatusChanged"]
    assert len(changes) == 1 and changes[0].actor == "system:auto-resolve"

    for _ in range(2):
        tick(app, use_leader=False)
    assert len([e for e in app.queries.timeline(resolving, mine) if e.type_name == "StatusChanged"]) == 1
    clock.at = T0 + timedelta(days=2)
    tick(app, use_leader=False)
    assert app.queries.get(quiet, firing).status is not Status.RESOLVED  # type: ignore[union-attr]
    assert app.queries.get(untouched, other).status is not Status.RESOLVED  # type: ignore[union-attr]
    assert app.queries.get(quiet, mine) is None and app.queries.get(untouched, mine) is None  # cross-tenant


def test_setting_auto_resolve_after_later_applies_to_incidents_already_all_clear(clocked: tuple, tmp_path: Path) -> None:
    app, clock = clocked
    org = app.directory.create_org(f"ar-late-{tmp_path.name[-10:]}").id
    app.directory.create_project(org, "shop")
    incident = _incident(app, org, all_clear=True)
    clock.at = T0 + timedelta(minutes=20)
    tick(app, use_leader=False)  # looked at; no auto-resolve configured: next look in up to an hour
    assert app.queries.get(org, incident).status is not Status.RESOLVED  # type: ignore[union-attr]
    (tmp_path / "org.yaml").write_text(CONFIG)
    apply_org_config(app, org, tmp_path / "org.yaml")  # the settings change makes its incidents due now
    assert incident in {i for _o, i, _s in SqlReminderLedger(app.engine).due(clock.at)}
    clock.at += timedelta(minutes=1)
    tick(app, use_leader=False)
    assert app.queries.get(org, incident).status is Status.RESOLVED  # type: ignore[union-attr]
