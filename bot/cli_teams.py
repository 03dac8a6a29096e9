"""`revenant teams`: the Teams app package, and which channel incident threads open in."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

DEFAULT_WEBSITE = "https://example.com/runbook-revenant"


@click.group("teams")
def teams() -> None:
    """Microsoft Teams: the app package and incident channels."""


@teams.command("package")
@click.option("--out", "out", type=click.Path(dir_okay=False), default="revenant-teams.zip", show_default=True,
              help="Where to write the zip.")
@click.option("--app-id", default=None, help="The bot's Microsoft App ID (default: MICROSOFT_APP_ID).")
@click.option("--website", default=DEFAULT_WEBSITE, show_default=True,
              help="Your https site; the manifest's privacy and terms URLs are <website>/privacy and /terms.")
@click.pass_context
def package(ctx: click.Context, out: str, app_id: str | None, website: str) -> None:
    """Zip manifest.json (bot, commands, scopes team/groupChat/personal) with its icons, ready to upload."""
    from bot.teams_app import build_package

    app_id = app_id or ctx.obj.settings().microsoft_app_id
    if not app_id:
        raise click.ClickException("no app id: pass --app-id or set MICROSOFT_APP_ID (the Azure Bot's app id)")
    Path(out).write_bytes(build_package(app_id, website))
    click.echo(f"wrote {out} (app id {app_id}); upload it in Teams: Apps › Manage your apps › Upload an app")
    if website == DEFAULT_WEBSITE:
        click.echo("note: the developer URLs point to an example site; pass --website https://… for your own")


@teams.command("channel")
@click.argument("org_ref", metavar="ORG")
@click.argument("channel_id")
@click.option("--project", default=None, help="Set this project's incident channel instead of the org default.")
@click.option("--announce", is_flag=True, help="Make it the org's channel for new-incident announcements instead.")
@click.pass_context
def channel(ctx: click.Context, org_ref: str, channel_id: str, project: str | None, announce: bool) -> None:
    """Choose the channel (19:…@thread.tacv2) where incident threads open, per project or for the org."""
    if not channel_id.startswith("19:"):
        raise click.ClickException("a Teams channel id looks like 19:…@thread.tacv2; `revenant teams channels ORG` "
                                   "lists the ones the bot has seen")
    app = ctx.obj.app()
    org_id = app.resolve_org(org_ref)
    if project and announce:
        raise click.ClickException("--announce is an org setting; drop --project")
    if project:
        found = app.directory.project(org_id, project)
        if found is None:
            raise click.ClickException(f"no project {project!r} in {org_ref}; `revenant org project ORG NAME` makes one")
        app.directory.update_project_settings(org_id, found.id, {**found.settings, "teams_channel": channel_id})
        click.echo(f"incidents of project {found.name} open their Teams thread in {channel_id}")
        return
    org = app.directory.require_org(org_id)
    teams_settings: dict[str, Any] = dict(org.settings.get("teams") or {})
    key = "announce_channel" if announce else "incident_channel"
    app.directory.update_org_settings(org_id, {**org.settings, "teams": {**teams_settings, key: channel_id}})
    if announce:
        click.echo(f"new incidents of {org.name} are announced in {channel_id}")
    else:
        click.echo(f"incidents of {org.name} open their Teams thread in {channel_id} (projects may override it)")


@teams.command("channels")
@click.argument("org_ref", metavar="ORG")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def channels(ctx: click.Context, org_ref: str, as_json: bool) -> None:
    """Channels the bot has heard from in this org (install the app in a team, or @mention it there)."""
    from storage.teams_conversations import SqlTeamsConversations

    app = ctx.obj.app()
    found = SqlTeamsConversations(app.engine).channels(app.resolve_org(org_ref))
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    if not found:
        click.echo("no channels yet: install the Teams app in a team, or @mention the bot in a channel")
    for item in found:
        click.echo(f"{item['channel_id']}  team {item['team_id'] or '-'}  last seen {item['last_seen']}")
