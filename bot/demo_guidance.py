"""The guidance part of `revenant demo`: cited suggestions with risk badges, a low-risk run, and a high-risk
rollback that bob requests, cannot approve himself, and alice approves."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import click

from bot.bootstrap import App
from bot.guidance_wiring import feedback_stats
from incident_core import action_usecases as au
from incident_core.errors import IncidentError
from incident_core.guidance import RISK_BADGE, render_lines
from incident_core.guidance_usecases import offer_guidance, run_suggestion
from incident_core.timeline import short_actor

ALICE, BOB = "demo:alice", "demo:bob"


def _say(who: str, text: str) -> None:
    for i, line in enumerate(text.splitlines() or [""]):
        click.echo(f"  {who if i == 0 else '':<12} {line}")


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0][:140]


def show_guidance(app: App, org_id: str, incident_id: str) -> None:
    """Ingest the shipped runbooks and postmortems, suggest next steps for the incident, run two of them."""
    click.echo("\nrunbooks and past postmortems → cited next steps:")
    report = app.knowledge.ingest(Path(str(resources.files("bot").joinpath("demo_data"))), org_id)
    _say("revenant", f"knowledge ingest bot/demo_data: {report.summary()}")
    offer = offer_guidance(deps=app.deps, queries=app.queries, source=app.guidance, org_id=org_id,
                           incident_id=incident_id, actor=ALICE, trigger="command", feedback=feedback_stats(app))
    _say("alice", "/revenant suggest")
    guidance = offer.guidance
    if guidance is None or guidance.nothing_found:
        _say("revenant", guidance.message if guidance else "no guidance recorded")
        return
    for line in render_lines(guidance):
        _say("revenant", line)
    base: dict[str, Any] = {"deps": app.deps, "org_id": org_id, "incident_id": incident_id}
    low = next((s for s in guidance.suggestions if s.runnable and s.risk in ("read-only", "low")), None)
    if low is not None:
        done = run_suggestion(**base, queries=app.queries, executor=app.executor, actor=BOB,
                              suggestion_id=low.suggestion_id)
        _say("bob", f"Run (simulated) on “{low.title}” → {done.status.value}: {_first_line(done.output)}")
    high = next((s for s in guidance.suggestions if s.runnable and s.risk == "high"), None)
    if high is None:
        return
    asked = run_suggestion(**base, queries=app.queries, executor=app.executor, actor=BOB,
                           suggestion_id=high.suggestion_id)
    _say("bob", f"Run (simulated) on “{high.title}”")
    _say("revenant", f"{RISK_BADGE['high']} {asked.summary} is high risk ({asked.status.value.replace('_', ' ')}): "
                     "a commander other than bob must approve [Approve] [Deny]")
    try:
        au.approve_action(**base, executor=app.executor, actor=BOB, action_id=asked.action_id)
    except IncidentError as exc:
        _say("bob", f"Approve → refused: {exc}")
    approved = au.approve_action(**base, executor=app.executor, actor=ALICE, action_id=asked.action_id)
    _say("alice", f"Approve → {approved.status.value} (approved by {short_actor(approved.approver or '')}): "
                  f"{_first_line(approved.output)}")
