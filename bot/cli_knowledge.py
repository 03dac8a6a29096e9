"""`revenant knowledge`: ingest runbooks, search them (text, logs, alert payloads), evaluate retrieval."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from knowledge.models import Hit


@contextmanager
def clear_errors() -> Iterator[None]:
    """Turn any failure into one clear line and a non-zero exit (no traceback)."""
    try:
        yield
    except (click.ClickException, click.exceptions.Exit, click.Abort):
        raise
    except Exception as exc:  # noqa: BLE001 - the CLI promises one line, never a traceback
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise click.ClickException(message) from exc


def _app_and_org(ctx: click.Context, org: str) -> tuple[Any, str]:
    app = ctx.obj.app()
    return app, app.resolve_org(org)


@click.group("knowledge")
def knowledge() -> None:
    """Runbook and postmortem knowledge base: ingest, search, evaluate."""


@knowledge.command("ingest")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--org", required=True, help="Org name or id.")
@click.option("--project", default=None, help="Scope the documents to a project.")
@click.pass_context
def ingest(ctx: click.Context, path: Path, org: str, project: str | None) -> None:
    """Ingest Markdown runbooks and postmortems under PATH (recursive, incremental)."""
    with clear_errors():
        app, org_id = _app_and_org(ctx, org)
        with tqdm(total=0, unit="file", desc="ingest", file=sys.stderr, leave=False) as bar:

            def progress(done: int, total: int, name: str) -> None:
                bar.total = total
                bar.update(done - bar.n)
                bar.set_postfix_str(name[-40:], refresh=False)

            report = app.knowledge.ingest(path, org_id, project=project, progress=progress)
        _record_store(app, org_id, report.added + report.updated + report.unchanged)
    click.echo(f"{path}: {report.summary()}")


def _store_name(app: Any) -> str:
    return f"the Chroma server {app.settings.chroma_url}" if app.settings.chroma_url else \
        f"the embedded store in {app.settings.data_dir / 'knowledge'}"


def _record_store(app: Any, org_id: str, documents: int) -> None:
    """Remember (in the org's settings) that this org has documents, and in which store."""
    if getattr(app, "directory", None) is None:  # a composition root without orgs (tests/knowledge stand-ins)
        return
    org = app.directory.require_org(org_id)
    app.directory.update_org_settings(org_id, {**org.settings, "knowledge_store": {
        "where": _store_name(app), "documents": documents}})


def _empty_store_warning(app: Any, org_id: str) -> str | None:
    """When a search found nothing although the org has documents recorded: which store has them."""
    if getattr(app, "directory", None) is None:
        return None
    recorded = app.directory.require_org(org_id).config.knowledge_store
    if not recorded.get("documents"):
        return None
    here = _store_name(app)
    if app.knowledge.holds_documents(org_id):
        return None
    return (f"this org has {recorded['documents']} documents ingested into {recorded.get('where')}, but this "
            f"process searches {here}, which holds none of them: set REVENANT_CHROMA_URL (and "
            "REVENANT_DATA_DIR) as for the ingest")


@knowledge.command("reindex")
@click.option("--org", required=True, help="Org name or id.")
@click.pass_context
def reindex(ctx: click.Context, org: str) -> None:
    """Re-embed the org's knowledge with the configured embedder (after changing REVENANT_EMBEDDINGS)."""
    with clear_errors():
        app, org_id = _app_and_org(ctx, org)
        before = app.knowledge.embedder_of(org_id)
        with tqdm(total=0, unit="section", desc="reindex", file=sys.stderr) as bar:

            def progress(done: int, total: int, _name: str) -> None:
                bar.total = total
                bar.update(done - bar.n)

            count = app.knowledge.reindex(org_id, progress=progress)
    click.echo(f"{count} sections re-embedded: {before} -> {app.knowledge.embedder_id}")


@knowledge.command("search")
@click.argument("query", required=False)
@click.option("--org", required=True, help="Org name or id.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, best first.")
@click.option("-k", "k", default=5, show_default=True, type=click.IntRange(1, 100), help="Results per query.")
@click.option("--project", default=None, help="Only this project's (and org-wide) documents.")
@click.option("--service", default=None, help="Only this service's (and unscoped) documents.")
@click.option("--batch", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help='JSONL file of {"id", "query"}; prints {"id", "results"} lines.')
@click.pass_context
def search(
    ctx: click.Context, query: str | None, org: str, as_json: bool, k: int,
    project: str | None, service: str | None, batch: Path | None,
) -> None:
    """Search for QUERY: free text, a log excerpt or an alert payload as JSON ('-' reads stdin)."""
    if (query is None) == (batch is None):
        raise click.UsageError("give either a QUERY or --batch FILE.jsonl")
    with clear_errors():
        app, org_id = _app_and_org(ctx, org)
        if batch is not None:
            ids, items = _read_batch(batch)
            results = app.knowledge.search_batch(org_id, items, k, project=project, service=service)
            warning = None if any(results) else _empty_store_warning(app, org_id)
            if warning:
                raise click.ClickException(warning)
            for item_id, hits in zip(ids, results, strict=True):
                click.echo(json.dumps({"id": item_id, "results": [h.to_json() for h in hits]}))
            return
        text = sys.stdin.read() if query == "-" else str(query)
        hits = app.knowledge.search(org_id, text, k=k, project=project, service=service)
        warning = None if hits else _empty_store_warning(app, org_id)
        if warning:
            raise click.ClickException(warning)
    if as_json:
        click.echo(json.dumps([h.to_json() for h in hits], indent=2))
    elif not hits:
        click.echo("No matching runbooks or postmortems.")
    else:
        click.echo("\n\n".join(_render(rank, hit) for rank, hit in enumerate(hits, start=1)))


@knowledge.command("eval")
@click.argument("queries", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--org", required=True, help="Org name or id.")
@click.option("-k", "k", default=5, show_default=True, type=click.IntRange(1, 100), help="Deepest cut-off.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def evaluate(ctx: click.Context, queries: Path, org: str, k: int, as_json: bool) -> None:
    """Measure recall@1/3/5 (and @k) and MRR over a labelled JSONL query set."""
    with clear_errors():
        app, org_id = _app_and_org(ctx, org)
        k_values = tuple(sorted({c for c in (1, 3, 5) if c <= k} | {k}))
        report = app.knowledge.evaluate(org_id, queries, k_values=k_values)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
        return
    for cut, value in sorted(report.recall.items()):
        click.echo(f"recall@{cut}  {value:.3f}")
    click.echo(f"MRR       {report.mrr:.3f}")
    click.echo(f"queries   {report.n}")
    misses = [o for o in report.outcomes if o.rank is None]
    for outcome in misses:
        click.echo(f"miss {outcome.id}: expected {', '.join(outcome.expected)}", err=True)


def _read_batch(path: Path) -> tuple[list[Any], list[str | dict[str, Any]]]:
    ids: list[Any] = []
    items: list[str | dict[str, Any]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise click.ClickException(f"{path}:{number}: not JSON ({exc.msg})") from exc
        if not isinstance(row, dict) or not isinstance(row.get("query"), str | dict):
            raise click.ClickException(f'{path}:{number}: expected {{"id": ..., "query": text or object}}')
        ids.append(row.get("id", number))
        items.append(row["query"])
    return ids, items


def _render(rank: int, hit: Hit) -> str:
    heading = " › ".join(part for part in (hit.title, hit.section) if part)
    weak = ", weak match: below the relevance floor" if hit.relevant is False else ""
    lines = [f"{rank}. {hit.source}  [{hit.kind}, score {hit.score:.4f}{weak}]", f"   {heading}"]
    snippet = " ".join(hit.text.split())
    lines.append("   " + (snippet[:240] + "…" if len(snippet) > 240 else snippet))
    lines.extend(f"   $ {c['command']}" for c in hit.commands[:3])
    return "\n".join(lines)
