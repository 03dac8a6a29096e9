"""`revenant outbox status|retry|drop --org ORG`: an org's deliveries, and what to do with dead letters;
`revenant outbox prune`: delete delivered messages past their retention (storage/outbox_retention.py)."""

from __future__ import annotations

import json
from typing import Any

import click

from storage.outbox_admin import DeadLetter, SqlOutboxAdmin
from storage.outbox_retention import BATCH, MIN_DAYS, Pruned, SqlOutboxRetention, cutoff

_ORG = click.option("--org", "org_ref", required=True, help="The org's name or id.")
_JSON = click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
_WHICH = (click.option("--message", "message_id", type=int, default=None,
                       help="Only this message's dead deliveries (its id from `outbox status`)."),
          click.option("--subscriber", default=None, help="Only this subscriber's dead deliveries."))


@click.group("outbox")
def outbox() -> None:
    """Outbox deliveries: backlog, retries and dead letters, per org."""


def _admin(ctx: click.Context, org_ref: str) -> tuple[SqlOutboxAdmin, str]:
    app = ctx.obj.app()
    return SqlOutboxAdmin(app.engine), app.resolve_org(org_ref)


def _letter(d: DeadLetter) -> dict[str, Any]:
    return {"message": d.message_id, "topic": d.topic, "key": d.key, "subscriber": d.subscriber,
            "attempts": d.attempts, "failed_at": d.failed_at.isoformat(), "last_error": d.last_error}


@outbox.command("status")
@_ORG
@_JSON
@click.pass_context
def status(ctx: click.Context, org_ref: str, as_json: bool) -> None:
    """Pending and due messages, retrying and dead deliveries, and each dead letter with its last error."""
    admin, org_id = _admin(ctx, org_ref)
    summary = admin.summary(org_id)
    dead = admin.dead_letters(org_id)
    if as_json:
        click.echo(json.dumps({"org": org_id, **summary, "dead": [_letter(d) for d in dead]}))
        return
    age = summary["oldest_due_seconds"]
    click.echo(f"{summary['pending_messages']} message(s) pending, {summary['due_messages']} due now"
               f"{f' (oldest waiting {age:.0f} s)' if age else ''}; {summary['retrying_deliveries']} delivery(ies) "
               f"retrying, {summary['dead_deliveries']} dead")
    for d in dead:
        click.echo(f"  dead: message {d.message_id} ({d.topic}, {d.key}) → {d.subscriber} after {d.attempts} "
                   f"attempt(s), {d.failed_at:%Y-%m-%d %H:%M:%S} UTC: {d.last_error or 'no error recorded'}")
    if dead:
        click.echo("fix the cause, then `revenant outbox retry --org ORG` (or `drop` to give them up)")


@outbox.command("retry")
@_ORG
@_WHICH[0]
@_WHICH[1]
@click.pass_context
def retry(ctx: click.Context, org_ref: str, message_id: int | None, subscriber: str | None) -> None:
    """Dead deliveries start over now, with a fresh attempt budget."""
    admin, org_id = _admin(ctx, org_ref)
    n = admin.retry(org_id, message_id=message_id, subscriber=subscriber)
    click.echo(f"{n} dead delivery(ies) will be retried now" if n else "no dead deliveries matched")


@outbox.command("drop")
@_ORG
@_WHICH[0]
@_WHICH[1]
@click.pass_context
def drop(ctx: click.Context, org_ref: str, message_id: int | None, subscriber: str | None) -> None:
    """Give dead deliveries up for good (kept as `dropped`, no longer counted as dead)."""
    admin, org_id = _admin(ctx, org_ref)
    n = admin.drop(org_id, message_id=message_id, subscriber=subscriber)
    click.echo(f"{n} dead delivery(ies) dropped" if n else "no dead deliveries matched")


@outbox.command("prune")
@click.option("--org", "org_ref", default=None, help="Only this org (its name or id); default: every org.")
@click.option("--older-than", "days", type=click.FloatRange(min=MIN_DAYS), default=None,
              help="Days since delivery (default: REVENANT_OUTBOX_RETENTION_DAYS).")
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
@click.pass_context
def prune(ctx: click.Context, org_ref: str | None, days: float | None, dry_run: bool) -> None:
    """Delete delivered messages older than the retention, with their delivery records, in small batches.

    Kept whatever their age: undelivered, held or deferred messages, dead deliveries not yet retried or dropped,
    and scheduled messages whose key makes them fire once (reminders, room archives)."""
    app = ctx.obj.app()
    days = days if days is not None else float(app.settings.outbox_retention_days)
    if days <= 0:
        raise click.UsageError("outbox retention is off (REVENANT_OUTBOX_RETENTION_DAYS=0): pass --older-than DAYS")
    orgs = [app.directory.require_org(org_ref)] if org_ref else app.directory.orgs()
    before = cutoff(days)
    verb = "would delete" if dry_run else "deleted"
    click.echo(f"{'dry run: ' if dry_run else ''}outbox messages delivered before {before:%Y-%m-%d %H:%M:%S} UTC "
               f"({days:g} day(s)), {len(orgs)} org(s)")
    names = {org.id: org.name for org in orgs}

    def progress(p: Pruned) -> None:
        if not p.done:
            click.echo(f"  {names[p.org_id]}: {p.messages} message(s) so far…")

    retention = SqlOutboxRetention(app.engine, batch=int(app.overrides.get("outbox_prune_batch", BATCH)))
    totals = retention.prune(names, before=before, dry_run=dry_run, progress=progress)
    for p in totals:
        if p.messages:
            click.echo(f"  {names[p.org_id]} ({p.org_id}): {verb} {p.messages} message(s) and {p.deliveries} "
                       f"delivery record(s)")
    messages, deliveries = sum(p.messages for p in totals), sum(p.deliveries for p in totals)
    click.echo(f"{verb} {messages} message(s) and {deliveries} delivery record(s) in "
               f"{sum(1 for p in totals if p.messages)} of {len(totals)} org(s)")
