"""The demo's insights act: the same alert returns days later (the war room says it recurs), then Monday's
weekly digest is posted to #general with its chart, which the demo also writes to a file it names."""

from __future__ import annotations

import copy
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from bot.bootstrap import App
from bot.cli_insights import report_lines
from bot.demo_postmortem import PostmortemDemo
from bot.demo_slack import SlackDemo, say, wait_for
from bot.insights_wiring import history, tracker_for
from bot.local_server import BackgroundServer
from bot.reminders import tick
from incident_core.insights import at_midnight, week_start
from incident_core.insights_usecases import pattern_report


def _again(body: dict[str, Any], at: str) -> dict[str, Any]:
    """The shipped Alertmanager alert, firing again later from another pod (a new fingerprint)."""
    again = copy.deepcopy(body)
    alert = again["alerts"][0]
    alert["labels"]["pod"] = "checkout-5c6d7e8f9-k4j2p"
    alert["startsAt"], alert["fingerprint"] = at, "9c1d2e3f4a5b6c7d"
    again["alerts"] = [alert]
    return again


def insights_act(app: App, server: BackgroundServer, pm_demo: PostmortemDemo, sd: SlackDemo, org_id: str,
                 token: str, root: Path) -> Path:
    """Recurrence in the war room, then the weekly digest; returns the chart file."""
    from bot.demo_http import payload, post

    items = sorted((i for i in pm_demo.jira.issues("OPS") if any(label.startswith("revenant-ai-")
                                                                  for label in i["fields"]["labels"])),
                   key=lambda i: i["key"])
    if items:
        pm_demo.jira.set_status(items[0]["key"], "Done")
        say("jira", f"{items[0]['key']} “{items[0]['fields']['summary'][:60]}” moved to Done")
    pm_demo.clock.advance(6 * 60)
    click.echo("\nlater that day, the same alert fires again on checkout:")
    status, answer = post(f"{server.url}/hooks/alertmanager", token, _again(
        payload("alertmanager"), pm_demo.clock.now().isoformat().replace("+00:00", "Z")))
    human = answer["signals"][0]["incident_id"] if answer.get("signals") else "?"
    say("alertmanager", f"HTTP {status} → {human}: {answer['signals'][0]['reason']}")
    state = wait_for(lambda: (s := app.queries.get(org_id, human)) and "slack" in s.rooms and s.recurrence and s,
                     f"{human}'s channel")
    channel = state.rooms["slack"].room_id
    # the recurrence is on the incident; the pinned war room shows it once its refresh is delivered
    war_room = wait_for(lambda: (lines := sd.slack.render_channel(channel).splitlines())
                        and any(" time in " in line for line in lines) and lines, f"{human}'s war room to show the recurrence")
    top = next(i for i, line in enumerate(war_room) if "📌 pinned" in line)
    click.echo(f"\n#{state.rooms['slack'].name}, the top of its pinned war room:")
    for line in war_room[top:top + 5]:
        click.echo("  │ " + line)

    monday = at_midnight(week_start(pm_demo.clock.now()) + timedelta(weeks=1)) + timedelta(hours=9, minutes=5)
    pm_demo.clock.at = monday
    general = sd.slack.channel_by_name("general")
    assert general is not None
    org = app.directory.require_org(org_id)
    app.directory.update_org_settings(org_id, {**org.settings, "insights": {
        "digest": {"slack_channel": general.id, "weekday": "mon", "hour": 9}}})
    click.echo(f"\nMonday {monday:%d %b %H:%M} UTC: the weekly digest (configured for #general) goes out:")
    tick(app, use_leader=False)
    shared = wait_for(lambda: sd.slack.files(general.id), "the digest in #general")
    rendered = sd.slack.render_channel(general.id).splitlines()
    start = max(i for i, line in enumerate(rendered) if "Weekly incident digest —" in line)
    end = next(i for i in range(start, len(rendered)) if "[image:" in rendered[i])
    for line in rendered[start:end + 1]:
        click.echo("  │ " + line)
    out = root / "digest-chart.png"
    out.write_bytes(shared[-1]["data"])
    report = pattern_report(history=history(app), tracker=tracker_for(app)(org_id), org_id=org_id, now=monday,
                            period=timedelta(days=30))
    click.echo("\nrevenant insights --org acme-demo --since 30d:")
    for line in "\n".join(report_lines(report)).splitlines():
        click.echo("  " + line)
    click.echo(f"\ndigest chart (as posted to Slack through files.getUploadURLExternal → upload → "
               f"files.completeUploadExternal) written to {out}")
    return out
