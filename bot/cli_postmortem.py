"""`revenant postmortem show|draft` and `revenant mcp` (read-only MCP tools for one org)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from incident_core import postmortem_usecases as pmu
from publishers.markdown import to_markdown


def _incident(ctx: click.Context, org: str, ref: str) -> tuple[Any, str, Any]:
    app = ctx.obj.app()
    org_id = app.resolve_org(org)
    state = app.queries.get(org_id, ref)
    if state is None:
        raise click.ClickException(f"no incident {ref!r} in org {org}; `revenant incidents list --org {org}`")
    return app, org_id, state


@click.group("postmortem")
def postmortem() -> None:
    """Postmortems: show or draft one from the timeline (edit and approve in Slack)."""


@postmortem.command("show")
@click.option("--org", "org_ref", required=True, help="Org name or id.")
@click.argument("ref", metavar="INCIDENT")
@click.option("--json", "as_json", is_flag=True, help="Sections, action items and warnings as JSON.")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Write the Markdown to this file.")
@click.pass_context
def show(ctx: click.Context, org_ref: str, ref: str, as_json: bool, out: str | None) -> None:
    """Print the postmortem as Markdown (with `[ev N]` citations into the timeline)."""
    _, _, state = _incident(ctx, org_ref, ref)
    view = pmu.view_of(state)
    if not view.sections:
        raise click.ClickException(f"{state.human_id} has no postmortem yet: `revenant postmortem draft`")
    if out:
        Path(out).write_text(to_markdown(view.document), encoding="utf-8")
        click.echo(f"wrote {out}")
    elif as_json:
        click.echo(json.dumps({"incident": state.human_id, "status": view.status, "sections": view.sections,
                               "action_items": view.action_items,
                               "published": state.postmortem.published,
                               "warnings": [f.__dict__ for f in view.findings]}, indent=2))
    else:
        click.echo(to_markdown(view.document), nl=False)


@postmortem.command("draft")
@click.option("--org", "org_ref", required=True, help="Org name or id.")
@click.argument("ref", metavar="INCIDENT")
@click.option("--replace", is_flag=True, help="Draft again even if a draft exists (edits are kept as events).")
@click.pass_context
def draft(ctx: click.Context, org_ref: str, ref: str, replace: bool) -> None:
    """Draft it from the timeline now (the LLM narrative is used when OPENAI_API_KEY is set)."""
    from bot.postmortem_wiring import make_narrator

    app, org_id, state = _incident(ctx, org_ref, ref)
    view = pmu.draft_postmortem(deps=app.deps, queries=app.queries, org_id=org_id, incident_id=state.incident_id,
                                actor=pmu.SYSTEM, narrator=make_narrator(app), replace_existing=replace,
                                check_role=False, announce=True)
    click.echo(pmu.summary_text(view).plain())


@click.command("mcp")
@click.option("--token", envvar="REVENANT_MCP_TOKEN", default=None, hidden=True)
@click.option("--token-file", type=click.File("r"), default=None,
              help="A file holding the org webhook token ('-' reads it from standard input).")
@click.option("--http", "http_port", type=int, default=None, help="Serve streamable HTTP on this port (at /mcp).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.pass_context
def mcp(ctx: click.Context, token: str | None, token_file: Any, http_port: int | None, host: str) -> None:
    """Serve read-only MCP tools (search runbooks, list incidents, get timeline, get postmortem).

    The org token comes from REVENANT_MCP_TOKEN or --token-file, never from the command line, where every
    user of the machine could read it in `ps`.
    """
    from bot.mcp_server import run_mcp

    if ctx.get_parameter_source("token") is click.core.ParameterSource.COMMANDLINE:
        raise click.UsageError("a token on the command line shows in `ps` to every user of this machine: set "
                               "REVENANT_MCP_TOKEN or pass --token-file PATH (or --token-file - to read stdin)")
    secret = token_file.read().strip() if token_file is not None else token
    if not secret:
        raise click.UsageError("set REVENANT_MCP_TOKEN to an org webhook token, or pass --token-file PATH")
    run_mcp(ctx.obj.app(), secret, http_port=http_port, host=host)


def register_postmortem_commands(cli: click.Group) -> None:
    """Attach `postmortem` and `mcp` to the CLI."""
    cli.add_command(postmortem)
    cli.add_command(mcp)
