"""`revenant insights`: recurring patterns of an org (or project, or service), as text or JSON, and the chart."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from incident_core.errors import IncidentError
from incident_core.insights import at_midnight, parse_period, week_start, weekly_series
from incident_core.insights_usecases import pattern_report
from incident_core.patterns import PastIncident, PatternReport, past_incident
from incident_core.warroom import humanize

MAX_CHART_WEEKS = 26


def _duration(seconds: float | None) -> str:
    return "—" if seconds is None else humanize(seconds)


def report_lines(report: PatternReport) -> list[str]:
    """The report as a person reads it in a terminal."""
    scope = " / ".join(x for x in (report.project, report.service) if x)
    lines = [f"{report.incidents} incident(s) in the last {report.days} days{f' ({scope})' if scope else ''}; "
             f"{len(report.patterns)} recurring pattern(s)"]
    for p in report.patterns:
        sev = ", ".join(f"{s}×{n}" for s, n in p.severities.items())
        lines.append(f"\n{p.label}: {p.count} incidents, last {p.last_at:%Y-%m-%d %H:%M} UTC, "
                     f"MTTA {_duration(p.mtta_seconds)}, MTTR {_duration(p.mttr_seconds)}, {sev}")
        shown = [i.human_id for i in p.incidents]
        lines.append("  incidents: " + ", ".join(shown[-12:]) + (f" (+{len(shown) - 12} earlier)" if len(shown) > 12 else ""))
        for pm in p.postmortems:
            items = "; ".join(f"[{a.status}] {a.title}" + (f" ({a.tracker_ref})" if a.tracker_ref else "")
                              for a in pm.action_items) or "no action items"
            lines.append(f"  postmortem of {pm.human_id} ({pm.status}): {items}")
    return lines


def chart_weeks(days: int) -> int:
    """Weeks charted for a period: whole weeks covering it, 2–26."""
    return max(2, min(MAX_CHART_WEEKS, -(-days // 7)))


@click.command("insights")
@click.option("--org", "org_ref", required=True, help="Org name or id.")
@click.option("--project", default=None, help="Only this project (name or id).")
@click.option("--service", default=None, help="Only incidents on this service.")
@click.option("--since", "since", default="90d", show_default=True, help="The period: 30d, 90d, 12w (up to 366 days).")
@click.option("--json", "as_json", is_flag=True, help="The report as one JSON object.")
@click.option("--chart", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Also draw the digest chart (incidents per week by service, MTTR trend) to this PNG file.")
@click.pass_context
def insights(ctx: click.Context, org_ref: str, project: str | None, service: str | None, since: str,
             as_json: bool, chart: str | None) -> None:
    """Recurring patterns: incidents grouped by service and alert, with MTTA, MTTR, postmortems and action items."""
    from bot.insights_wiring import history, tracker_for

    app = ctx.obj.app()
    org_id = app.resolve_org(org_ref)
    try:
        period = parse_period(since)
    except IncidentError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None
    found = app.directory.project(org_id, project) if project else None
    if project and found is None:
        raise click.ClickException(f"no project {project!r} in org {org_ref}")
    now = app.deps.clock.now()
    past = history(app)
    report = pattern_report(history=past, tracker=tracker_for(app)(org_id), org_id=org_id, now=now, period=period,
                            project_id=found.id if found else None, project=found.name if found else None,
                            service=service)
    out: dict[str, Any] = report.to_dict()
    if chart:
        weeks = chart_weeks(report.days)
        start = at_midnight(week_start(now) - timedelta(weeks=weeks - 1))
        incidents: list[PastIncident] = [past_incident(s) for s in past.opened_since(
            org_id, start, until=now, project_id=found.id if found else None)]
        if service:
            incidents = [i for i in incidents if service in i.services]
        series = weekly_series(incidents, last_week=week_start(now), weeks=weeks)
        from handlers.insights_chart import render_chart

        png = render_chart(series, title=f"{app.directory.require_org(org_id).name} — incidents per week")
        Path(chart).write_bytes(png)
        out["chart"] = {"path": str(chart), "bytes": len(png), "series": series.to_dict()}
    if as_json:
        click.echo(json.dumps(out, indent=2))
        return
    for line in report_lines(report):
        click.echo(line)
    if chart:
        click.echo(f"\nchart written to {chart} ({out['chart']['bytes']} bytes)")
