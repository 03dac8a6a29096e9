"""`revenant outbox status|retry|drop --org ORG`: an org's deliveries, and what to do with dead letters."""

from __future__ import annotations

import json
from typing import Any

import click

from storage.outbox_admin import DeadLetter, SqlOutboxAdmin

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
