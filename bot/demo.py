"""`revenant demo`: a scripted incident, offline, on the embedded defaults in a fresh data dir; then the same alert
recurring, and the weekly digest with its chart."""

from __future__ import annotations

import tempfile
import time
from importlib import resources
from pathlib import Path

import click

from bot.bootstrap import App, bootstrap
from bot.demo_guidance import slack_guidance
from bot.demo_http import payload, post
from bot.demo_insights import insights_act
from bot.demo_postmortem import PostmortemDemo, postmortem_demo
from bot.demo_slack import SlackDemo, say, slack_demo, wait_for
from bot.local_server import BackgroundServer
from bot.settings import Settings
from incident_core.model import OrgRole
from incident_core.timeline import render

PAYLOADS = ("alertmanager", "grafana", "datadog", "pagerduty", "generic")


def run_demo(*, data_dir: str | None = None) -> None:
    """Run the scripted incident and print what a person would read."""
    started = time.monotonic()
    root = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="revenant-demo-"))
    with postmortem_demo(root) as pm_demo, slack_demo() as sd:
        settings = Settings(data_dir=root, database_url=None, **pm_demo.settings(),
                            **sd.settings())
        app = bootstrap(settings, clock=pm_demo.clock, github_write_pause=0)
        try:
            with BackgroundServer(app) as server:
                sd.connect(server.url)
                _script(app, server, pm_demo, sd)
        finally:
            app.close()
    click.echo(f"\ndemo data kept in {root} ({time.monotonic() - started:.1f} s); try\n"
               f"  REVENANT_DATA_DIR={root} .venv/bin/revenant incidents timeline --org acme-demo INC-1")


def _script(app: App, server: BackgroundServer, pm_demo: PostmortemDemo, sd: SlackDemo) -> None:
    org = app.directory.create_org("acme-demo")
    pm_demo.configure(app, org.id)
    general = sd.slack.channel_by_name("general")
    assert general is not None
    settings = app.directory.require_org(org.id).settings
    app.directory.update_org_settings(org.id, {**settings, "slack": {"auto_channel": True,
                                                                      "announce_channel": general.id}})
    app.directory.bind("slack", sd.slack.team_id, org.id)
    token = app.directory.issue_token(org.id)
    for person, role in (("alice", OrgRole.COMMANDER), ("bob", OrgRole.RESPONDER), ("carol", OrgRole.VIEWER)):
        app.directory.set_role(org.id, f"slack:{sd.users[person]}", role, person)
    click.echo(f"org acme-demo ({org.id}); app on {server.url}; Slack workspace “Acme” (emulated) linked")
    report = app.knowledge.ingest(Path(str(resources.files("bot").joinpath("demo_data"))), org.id)
    say("revenant", f"knowledge ingest bot/demo_data (runbooks + past postmortems): {report.summary()}")

    click.echo("\nsignals arrive by webhook:")
    for source in PAYLOADS:
        status, answer = post(f"{server.url}/hooks/{source}", token, payload(source))
        for s in answer.get("signals", []):
            say(source, f"HTTP {status} → {s['incident_id'] or '-'}: {s['reason']}")
    status, answer = post(f"{server.url}/hooks/alertmanager", token, payload("alertmanager"))
    say("alertmanager", f"HTTP {status} → redelivery: {answer['signals'][0]['reason'][:60]}…")
    status, answer = post(f"{server.url}/hooks/alertmanager", token, {"version": "4", "alerts": "oops"})
    say("(bad sender)", f"HTTP {status} → {answer.get('field')}: {answer.get('message')}")

    inc = wait_for(lambda: (s := app.queries.get(org.id, "INC-1")) and "slack" in s.rooms and s, "INC-1's channel")
    channel, war_room_ts = inc.rooms["slack"].room_id, inc.rooms["slack"].message_id
    say("revenant", f"opened #{inc.rooms['slack'].name} for {inc.human_id}, pinned the war room, "
                    f"announced it in #general, and threaded suggestions under the war room")
    click.echo(f"\nresponders work {inc.human_id} in #{inc.rooms['slack'].name} (every line is a signed request):")
    pm_demo.clock.advance(2)
    sd.command("alice", channel, "status investigating acknowledged, looking")
    sd.command("alice", channel, f"role commander <@{sd.users['alice']}|alice>")
    sd.command("alice", channel, f"role scribe <@{sd.users['bob']}|bob>")
    sd.command("bob", channel, "note checkout pods exhaust the payments-db connection pool since the 09:50 deploy")
    pm_demo.clock.advance(4)
    msg = sd.message("bob", channel, "pool at 198/200 on every checkout pod since the 09:50 deploy")
    sd.react("alice", channel, msg["ts"], "pushpin")
    sd.command("carol", channel, "note +1")
    sd.command("alice", channel, "sev 2")
    slack_guidance(sd, channel, war_room_ts)
    for status_, who, note in (("identified", "alice", "pool exhaustion after the 09:50 deploy"),
                               ("mitigated", "bob", "rolled back checkout to v412")):
        pm_demo.clock.advance(9)
        sd.command(who, channel, f"status {status_} {note}")
    sd.command("bob", channel, "note follow-up: alert when the checkout connection pool passes 90%")
    pm_demo.clock.advance(18)
    status, answer = post(f"{server.url}/hooks/datadog", token, payload("datadog-recovered"))
    say("datadog", f"HTTP {status} → {answer['signals'][-1]['reason']}")
    status, answer = post(f"{server.url}/hooks/alertmanager", token, payload("alertmanager-resolved"))
    say("alertmanager", f"HTTP {status} → {answer['signals'][-1]['reason']}")
    cleared = app.queries.get(org.id, inc.incident_id)
    if cleared is not None and cleared.all_clear_at:
        say("revenant", f"✅ all clear on {cleared.human_id}: {cleared.all_clear_reason}")
    sd.command("alice", channel, "status resolved error rate back under 0.1% for 15 min")
    sd.command("alice", channel, "status mitigated")

    pm_demo.act(app, org.id, inc.incident_id, editor=f"slack:{sd.users['bob']}",
                approver=f"slack:{sd.users['alice']}")

    click.echo(f"\n#{inc.rooms['slack'].name} as a person reads it in Slack:")
    for line in sd.slack.render_channel(channel).splitlines():
        click.echo("  │ " + line)
    click.echo("\nincidents:")
    for s in app.queries.list_incidents(org.id):
        click.echo(f"  {s.human_id:<6} {s.severity.value}  {s.status.value:<10} {s.signal_count} signal(s)  {s.title}")
    final = app.queries.get(org.id, "INC-1")
    assert final is not None
    click.echo(f"\ntimeline of {final.human_id} (commander {sd.name(str(final.commander).split(':')[-1])}):")
    for line in render(app.queries.timeline(org.id, inc.incident_id), app.directory.display_names(org.id)):
        click.echo("  " + line)
    insights_act(app, server, pm_demo, sd, org.id, token, pm_demo.root)
