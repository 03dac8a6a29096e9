"""`revenant`: the command-line interface (a stable external contract, see docs/architecture.md)."""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from typing import Any

import click
from pydantic import ValidationError

from bot.bootstrap import App, bootstrap, migrate_database
from bot.cli_insights import insights
from bot.cli_knowledge import knowledge
from bot.cli_outbox import outbox
from bot.cli_postmortem import register_postmortem_commands
from bot.cli_sources import source
from bot.cli_teams import teams
from bot.settings import Settings, explain, load_settings
from incident_core.errors import IncidentError, StoreUnavailable
from incident_core.model import OrgRole
from incident_core.state import IncidentState
from incident_core.timeline import render, to_json


class CliContext:
    """Lazily built settings and app, shared by every subcommand."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._app: App | None = None

    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    def app(self) -> App:
        if self._app is None:
            self._app = bootstrap(self.settings())
        return self._app

    def close(self) -> None:
        """Release the app built for this command (an in-process run would keep its Chroma store open)."""
        if self._app is not None:
            self._app.close()
            self._app = None


pass_ctx = click.make_pass_decorator(CliContext)


@click.group(help="Runbook Revenant — the chat-first incident copilot.")
@click.version_option(package_name="runbook-revenant")
@click.pass_context
def cli(ctx: click.Context) -> None:
    if ctx.obj is None:  # a context handed in (tests) belongs to the caller
        ctx.obj = CliContext()
        ctx.call_on_close(ctx.obj.close)


def incident_summary(state: IncidentState) -> dict[str, Any]:
    """The JSON object `incidents list` prints per incident."""
    return {
        "id": state.human_id, "uuid": state.incident_id, "title": state.title, "status": state.status.value,
        "severity": state.severity.value, "commander": state.commander, "project_id": state.project_id,
        "created_at": state.created_at.isoformat(), "updated_at": state.updated_at.isoformat(),
        "signals": state.signal_count, "services": list(state.services),
        "all_clear": state.all_clear_at is not None, "all_clear_at": state.all_clear_at,
    }


# --- server and worker -----------------------------------------------------------------------


@cli.command(help="Run the HTTP app: Slack, Teams, signal webhooks, /healthz, /metrics.")
@click.option("--port", default=3000, show_default=True, type=int, envvar="PORT")
@click.option("--host", default="0.0.0.0", show_default=True)
@click.option("--socket-mode", is_flag=True, help="Receive Slack over Socket Mode (needs SLACK_APP_TOKEN).")
@pass_ctx
def serve(c: CliContext, port: int, host: str, socket_mode: bool) -> None:
    from bot.server import run_server

    try:
        run_server(c.app(), host=host, port=port, socket_mode=socket_mode)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


@cli.command(help="Run the background worker: outbox delivery and scheduled jobs.")
@click.option("--once", is_flag=True, help="Deliver what is due once and exit.")
@pass_ctx
def worker(c: CliContext, once: bool) -> None:
    from bot.shutdown_guard import end_process
    from bot.worker import run_worker

    run_worker(c.app(), once=once)
    if not once:  # stopped by a signal: close the engines, flush the logs and skip the interpreter's teardown
        c.close()
        end_process(0)


@cli.command(help="Run a scripted incident offline on the embedded defaults.")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None,
              help="Where to keep the demo's database (default: a fresh temporary directory).")
@click.option("--teams", is_flag=True, help="Run it from Microsoft Teams, against the Bot Connector emulator.")
def demo(data_dir: str | None, teams: bool) -> None:
    from bot.demo import run_demo
    from bot.demo_teams import run_teams_demo

    (run_teams_demo if teams else run_demo)(data_dir=data_dir)


# --- database --------------------------------------------------------------------------------


@cli.group(help="Database schema.")
def db() -> None:
    """Database schema."""


@db.command("upgrade", help="Apply Alembic migrations (creates the app role and RLS policies on PostgreSQL).")
@pass_ctx
def db_upgrade(c: CliContext) -> None:
    revision = migrate_database(c.settings())
    click.echo(f"database at revision {revision}")


@cli.group(help="Projections (read models).")
def projections() -> None:
    """Projections (read models)."""


@projections.command("rebuild", help="Replay every event and rebuild the incident projection.")
@click.option("--org", default=None, help="Only this org (name or id).")
@pass_ctx
def projections_rebuild(c: CliContext, org: str | None) -> None:
    from tqdm import tqdm

    from storage.projections import rebuild

    app = c.app()
    orgs = [app.resolve_org(org)] if org else None
    with tqdm(unit=" events", file=sys.stderr, disable=None) as bar:
        report = rebuild(app.engine, org_ids=orgs, progress=bar.update)
    click.echo(f"rebuilt {report.incidents} incidents from {report.events} events in {report.orgs} org(s)")


# --- orgs ------------------------------------------------------------------------------------


@cli.group(help="Organizations (tenants), their tokens and chat bindings.")
def org() -> None:
    """Organizations (tenants), their tokens and chat bindings."""


@org.command("create", help="Create an org; prints its id and a webhook token (shown once).")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def org_create(c: CliContext, name: str, as_json: bool) -> None:
    app = c.app()
    created = app.directory.create_org(name)
    token = app.directory.issue_token(created.id)
    if as_json:
        click.echo(json.dumps({"id": created.id, "name": created.name, "webhook_token": token}))
    else:
        click.echo(f"org {created.name} created\nid:            {created.id}\nwebhook token: {token}\n"
                   "(the token is shown once; store it in your alert sender's config)")


@org.command("list", help="List orgs.")
@pass_ctx
def org_list(c: CliContext) -> None:
    for o in c.app().directory.orgs():
        click.echo(f"{o.id}  {o.name}")


@org.group("token", help="Webhook tokens.")
def org_token() -> None:
    """Webhook tokens."""


@org_token.command("rotate", help="Issue a new token; old ones keep working for the grace period.")
@click.argument("org_ref", metavar="ORG")
@click.option("--grace-hours", default=24.0, show_default=True, type=float)
@click.option("--project", default=None, help="Issue a token bound to one project.")
@pass_ctx
def org_token_rotate(c: CliContext, org_ref: str, grace_hours: float, project: str | None) -> None:
    app = c.app()
    org_id = app.resolve_org(org_ref)
    project_id = _project_id(app, org_id, project)
    token = app.directory.rotate_token(org_id, grace=timedelta(hours=grace_hours), project_id=project_id)
    click.echo(f"new webhook token: {token}\nprevious tokens stop working in {grace_hours:g} h")


@org.command("link-slack", help="Bind a Slack workspace (team id) to an org (token mode: the token's own "
             "workspace only).")
@click.argument("org_ref", metavar="ORG")
@click.argument("team_id")
@click.option("--move", is_flag=True, help="Move a workspace already linked to another org.")
@pass_ctx
def org_link_slack(c: CliContext, org_ref: str, team_id: str, move: bool) -> None:
    from bot.slack_identity import IdentityUnknown

    identity = c.app().slack_identity
    if identity is not None:
        try:
            owner = identity.get()
        except IdentityUnknown as exc:
            raise click.ClickException(f"not linked: {exc}") from None
        if not owner.owns(team_id):
            raise click.ClickException(
                f"not linked: SLACK_BOT_TOKEN belongs to Slack workspace {owner.team or owner.team_id} "
                f"({owner.team_id}), and token mode serves exactly that workspace, not {team_id}. To serve "
                "several workspaces, configure OAuth (SLACK_CLIENT_ID, SLACK_CLIENT_SECRET) and install the app "
                "in each one; each install links its workspace to an org by itself.")
    _link(c, "slack", org_ref, team_id, "Slack workspace", move=move)


@org.command("link-teams", help="Bind a Microsoft Teams / Entra tenant to an org.")
@click.argument("org_ref", metavar="ORG")
@click.argument("tenant_id")
@click.option("--move", is_flag=True, help="Move a tenant already linked to another org.")
@pass_ctx
def org_link_teams(c: CliContext, org_ref: str, tenant_id: str, move: bool) -> None:
    _link(c, "teams", org_ref, tenant_id, "Teams tenant", move=move)


def _link(c: CliContext, platform: str, org_ref: str, external_id: str, what: str, *, move: bool = False) -> None:
    app = c.app()
    app.directory.bind(platform, external_id, app.resolve_org(org_ref), move=move)
    click.echo(f"{what} {external_id} now belongs to org {org_ref}")


@org.command("member", help="Set a member's role: viewer, responder, commander or admin.")
@click.argument("org_ref", metavar="ORG")
@click.argument("user")
@click.argument("role", type=click.Choice([r.value for r in OrgRole]))
@pass_ctx
def org_member(c: CliContext, org_ref: str, user: str, role: str) -> None:
    app = c.app()
    app.directory.set_role(app.resolve_org(org_ref), user, OrgRole(role))
    click.echo(f"{user} is now {role} in {org_ref}")


@org.command("project", help="Create a project inside an org.")
@click.argument("org_ref", metavar="ORG")
@click.argument("name")
@pass_ctx
def org_project(c: CliContext, org_ref: str, name: str) -> None:
    app = c.app()
    p = app.directory.create_project(app.resolve_org(org_ref), name)
    click.echo(f"project {p.name} created: {p.id}")


@org.command("config", help="Load an org's routing and project settings from YAML (see docs/signals.md).")
@click.argument("org_ref", metavar="ORG")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@pass_ctx
def org_config(c: CliContext, org_ref: str, path: str) -> None:
    from tqdm import tqdm

    from bot.org_config import apply_org_config

    app = c.app()
    org_id = app.resolve_org(org_ref)
    bars: list[tqdm] = []  # opened by the first report: most config loads recheck nothing

    def progress(done: int, total: int) -> None:
        if not bars:
            bars.append(tqdm(total=total, unit="incident", desc="recheck open incidents", file=sys.stderr,
                             leave=False, disable=None))
        bars[0].update(done - bars[0].n)

    try:
        summary = apply_org_config(app, org_id, path, progress=progress)
    finally:
        for bar in bars:
            bar.close()
    click.echo(summary)


def _project_id(app: App, org_id: str, project: str | None) -> str | None:
    if project is None:
        return None
    found = app.directory.project(org_id, project)
    if found is None:
        raise click.ClickException(f"no project {project!r} in this org")
    return found.id


# --- incidents -------------------------------------------------------------------------------


@cli.group(help="Read incidents.")
def incidents() -> None:
    """Read incidents."""


@incidents.command("list", help="List an org's incidents, newest first.")
@click.option("--org", "org_ref", required=True, help="Org name or id.")
@click.option("--open", "open_only", is_flag=True, help="Only incidents not yet resolved.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def incidents_list(c: CliContext, org_ref: str, open_only: bool, as_json: bool) -> None:
    app = c.app()
    items = app.queries.list_incidents(app.resolve_org(org_ref), open_only=open_only)
    if as_json:
        click.echo(json.dumps([incident_summary(s) for s in items], indent=2))
        return
    if not items:
        click.echo("no incidents")
    for s in items:
        clear = " ✅ all clear" if s.all_clear_at and s.status.is_open else ""
        click.echo(f"{s.human_id:<8} {s.severity.value:<5} {s.status.value:<13} {s.title}{clear}")


def _incident(app: App, org_ref: str, ref: str) -> tuple[str, IncidentState]:
    org_id = app.resolve_org(org_ref)
    state = app.queries.get(org_id, ref)
    if state is None:
        raise click.ClickException(f"no incident {ref!r} in org {org_ref}; `revenant incidents list --org {org_ref}`")
    return org_id, state


@incidents.command("show", help="Show one incident (INC-7 or its id).")
@click.option("--org", "org_ref", required=True)
@click.argument("ref", metavar="INCIDENT")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def incidents_show(c: CliContext, org_ref: str, ref: str, as_json: bool) -> None:
    _, s = _incident(c.app(), org_ref, ref)
    if as_json:
        click.echo(json.dumps({**incident_summary(s), "roles": s.roles, "status_times": s.status_times}, indent=2))
        return
    click.echo(f"{s.human_id}  {s.title}\n  status:   {s.status.value}\n  severity: {s.severity.value}")
    for role, who in s.roles.items():
        click.echo(f"  {role + ':':<10}{who}")
    click.echo(f"  signals:  {s.signal_count}  services: {', '.join(s.services) or '-'}")
    if s.all_clear_at:
        click.echo(f"  all clear: since {s.all_clear_at} — {s.all_clear_reason}")
    click.echo(f"  opened:   {s.created_at:%Y-%m-%d %H:%M:%S} UTC  updated: {s.updated_at:%H:%M:%S}")


@incidents.command("timeline", help="Print an incident's timeline, oldest first.")
@click.option("--org", "org_ref", required=True)
@click.argument("ref", metavar="INCIDENT")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def incidents_timeline(c: CliContext, org_ref: str, ref: str, as_json: bool) -> None:
    app = c.app()
    org_id, s = _incident(app, org_ref, ref)
    events = app.queries.timeline(org_id, s.incident_id)
    if as_json:
        click.echo(json.dumps([to_json(e) for e in events], indent=2))
    else:
        click.echo(f"{s.human_id} {s.title}")
        for line in render(events, app.directory.display_names(org_id)):
            click.echo("  " + line)


knowledge.add_command(source)
cli.add_command(knowledge)
cli.add_command(insights)
register_postmortem_commands(cli)
cli.add_command(teams)
cli.add_command(outbox)


def main(argv: list[str] | None = None) -> None:
    """Entry point: user mistakes become one line on stderr and exit status 1, never a traceback."""
    try:
        cli.main(args=argv, standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except ValidationError as exc:
        click.echo(explain(exc), err=True)
        sys.exit(2)
    except StoreUnavailable as exc:
        cause = str(getattr(exc.__cause__, "orig", None) or exc.__cause__ or "").strip().splitlines()
        click.echo(f"error: the database is not answering ({cause[0][:200] if cause else 'no answer'}); "
                   "check REVENANT_DATABASE_URL and that the server is up", err=True)
        sys.exit(1)
    except IncidentError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except OSError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except Exception as exc:  # database unreachable and the like: one line, with what to check
        name = type(exc).__name__
        if name in ("OperationalError", "InterfaceError"):
            click.echo(f"error: cannot use the database ({str(exc).splitlines()[0]}); "
                       "check REVENANT_DATABASE_URL and that the server is up", err=True)
            sys.exit(1)
        raise
