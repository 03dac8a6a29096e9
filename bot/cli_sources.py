"""`revenant knowledge source add|list|remove|sync`: runbook sources kept in sync (GitHub, local git)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import click

from bot.cli_knowledge import clear_errors
from incident_core.knowledge_sources import KnowledgeSource, SourceError

_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$")


def _as_json(source: KnowledgeSource) -> dict[str, Any]:
    return {"id": source.source_id, "kind": source.kind, "location": source.location, "path": source.path,
            "ref": source.ref, "project": source.project, "last_commit": source.last_commit,
            "last_synced_at": source.last_synced_at.isoformat() if source.last_synced_at else None,
            "last_error": source.last_error}


@click.group("source")
def source() -> None:
    """Where an org's runbooks live: GitHub repositories and local git checkouts, synced by blob SHA."""


@source.command("add")
@click.argument("kind", type=click.Choice(["github", "git"]))
@click.argument("location")
@click.option("--org", required=True, help="Org name or id.")
@click.option("--path", "folder", default="", help="Folder inside the repository (default: all of it).")
@click.option("--ref", default="main", show_default=True, help="Branch, tag or commit to follow.")
@click.option("--project", default=None, help="Scope the documents to a project.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def add(ctx: click.Context, kind: str, location: str, org: str, folder: str, ref: str, project: str | None,
        as_json: bool) -> None:
    """Add a source: `github OWNER/REPO` or `git /path/to/checkout`; prints its id and webhook secret."""
    with clear_errors():
        app = ctx.obj.app()
        org_id = app.resolve_org(org)
        if kind == "github" and not _REPO.match(location):
            raise SourceError(f"{location!r} is not OWNER/REPO")
        if kind == "git":
            location = str(Path(location).expanduser().resolve())
            if not (Path(location) / ".git").exists():
                raise SourceError(f"{location} is not a git checkout (no .git)")
        added = app.knowledge_sources.add(org_id, kind=kind, location=location, path=folder.strip("/"), ref=ref,
                                          project=project)
    if as_json:
        click.echo(json.dumps({**_as_json(added), "secret": added.secret}))
        return
    click.echo(f"{added.source_id}: {added.describe()}")
    if kind == "github":
        click.echo(f"push webhook: POST /hooks/github?org={org_id}&source={added.source_id} "
                   f"(content type application/json, secret {added.secret})")


@source.command("list")
@click.option("--org", required=True, help="Org name or id.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def list_sources(ctx: click.Context, org: str, as_json: bool) -> None:
    """The org's sources and their last sync."""
    with clear_errors():
        app = ctx.obj.app()
        found = app.knowledge_sources.list_sources(app.resolve_org(org))
    if as_json:
        click.echo(json.dumps([_as_json(s) for s in found]))
    elif not found:
        click.echo("No sources: add one with `revenant knowledge source add`.")
    for s in [] if as_json else found:
        state = f"at {s.last_commit[:12]}" if s.last_commit else "never synced"
        click.echo(f"{s.source_id}  {s.describe()}  {state}" + (f"  last error: {s.last_error}" if s.last_error else ""))


@source.command("remove")
@click.argument("source_id")
@click.option("--org", required=True, help="Org name or id.")
@click.pass_context
def remove(ctx: click.Context, source_id: str, org: str) -> None:
    """Remove a source and the documents it brought into the knowledge base."""
    with clear_errors():
        app = ctx.obj.app()
        org_id = app.resolve_org(org)
        found = app.knowledge_sources.get(org_id, source_id)
        if found is None:
            raise SourceError(f"no source {source_id} in this org")
        documents = app.source_syncer.forget(found)
        app.knowledge_sources.remove(org_id, source_id)
    click.echo(f"{source_id} removed ({documents} documents dropped from the knowledge base)")


@source.command("sync")
@click.argument("source_id", required=False)
@click.option("--org", required=True, help="Org name or id.")
@click.pass_context
def sync(ctx: click.Context, source_id: str | None, org: str) -> None:
    """Sync one source now, or all of the org's sources."""
    from bot.source_sync import sync_one

    with clear_errors():
        app = ctx.obj.app()
        org_id = app.resolve_org(org)
        ids = [source_id] if source_id else [s.source_id for s in app.knowledge_sources.list_sources(org_id)]
        if not ids:
            raise SourceError("this org has no sources")
        for sid in ids:
            click.echo(f"{sid}: {sync_one(app, org_id, sid).summary()}")
