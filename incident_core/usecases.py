"""Use cases: keyword-only functions, each one unit of work over the ports."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from incident_core import commands as cmd
from incident_core.aggregate import decide
from incident_core.errors import ConcurrencyConflict, IncidentError, NotFound
from incident_core.events import Event
from incident_core.model import IncidentRole, OrgRole, Severity, Status
from incident_core.ports import Clock, Directory, IdGenerator, IncidentTransaction, OutboxMessage, UnitOfWork
from incident_core.rbac import Permission, require
from incident_core.state import IncidentState, apply_all

MAX_ATTEMPTS = 50
_BACKOFF_CAP_S = 0.05


def back_off(attempt: int) -> None:
    """Wait a random, growing moment after a lost optimistic append.

    Without it two writers that keep re-reading and appending the same stream can lose to each
    other in lockstep until the attempts run out; full jitter breaks the lockstep.
    """
    time.sleep(random.uniform(0, min(_BACKOFF_CAP_S, 0.0005 * 2 ** attempt)))  # noqa: S311 — jitter, not a secret


@dataclass(frozen=True)
class Deps:
    """The ports a use case needs, built once by the composition root."""

    uow: UnitOfWork
    directory: Directory
    clock: Clock
    ids: IdGenerator


@dataclass(frozen=True)
class Result:
    """What a command did: the new state and the events written (or found, when a duplicate)."""

    state: IncidentState
    events: list[Event] = field(default_factory=list)
    duplicate: bool = False


def role_of(*, deps: Deps, org_id: str, actor: str) -> OrgRole:
    """The actor's role, falling back to the org's default role for unknown members."""
    role = deps.directory.role_of(org_id, actor)
    if role is not None:
        return role
    org = deps.directory.org(org_id)
    if org is None:
        raise NotFound(f"no org {org_id!r}")
    return org.default_role


def run_command(
    *,
    deps: Deps,
    build: Callable[[int | None], cmd.Command],
    permission: Permission,
    idempotency_key: str | None = None,
    outbox: Callable[[IncidentState, list[Event]], Sequence[OutboxMessage]] | None = None,
    check_role: bool = True,
) -> Result:
    """Load, decide, apply and append in one transaction, retrying on concurrency conflicts.

    `build` receives the next incident number when the command declares (else None) so the
    number is allocated inside the same transaction that records the declaration.
    """
    probe = build(None)
    if check_role:
        require(role_of(deps=deps, org_id=probe.org_id, actor=probe.actor), permission, actor=probe.actor)
    for attempt in range(MAX_ATTEMPTS):
        if attempt:
            back_off(attempt)
        try:
            with deps.uow(probe.org_id) as tx:
                if idempotency_key:
                    prior = tx.recorded(idempotency_key)
                    if prior is not None:
                        state = tx.load(prior[0].incident_id)
                        assert state is not None
                        return Result(state=state, events=prior, duplicate=True)
                declaring = isinstance(probe, cmd.DeclareIncident)
                command = build(tx.next_incident_number()) if declaring else probe
                state, events = (None, []) if declaring else _decide_from_guess(tx, command)
                if not events:
                    state = None if declaring else tx.load(command.incident_id)
                    if state is None and not declaring:
                        raise NotFound(f"no incident {command.incident_id} in this org")
                    events = decide(state, command)
                new_state = apply_all(state, events)
                assert new_state is not None
                messages = list(outbox(new_state, events)) if outbox else []
                messages.append(changed_message(new_state, events))
                tx.append(events, expected_version=state.version if state else 0, state=new_state,
                          idempotency_key=idempotency_key, outbox=messages)
            return Result(state=new_state, events=events)
        except ConcurrencyConflict:
            continue
    raise ConcurrencyConflict("the incident is changing too fast right now; try again in a moment")


def _decide_from_guess(tx: IncidentTransaction, command: cmd.Command) -> tuple[IncidentState | None, list[Event]]:
    """Decide from the transaction's cached state when that yields events to append.

    The append is checked against the guess's version, so a stale guess ends in ConcurrencyConflict
    and a retry from a fresh read. A refusal or a no-op is never taken from a guess: the caller reads
    the current state and decides again, so nobody is refused on the strength of an old state.
    """
    guess = tx.cached(command.incident_id)
    if guess is None:
        return None, []
    try:
        return guess, decide(guess, command)
    except IncidentError:
        return None, []


CHANGED_TOPIC = "incident.changed"


def changed_message(state: IncidentState, events: list[Event]) -> OutboxMessage:
    """The `incident.changed` outbox message every append leaves (chat refreshes read it)."""
    return OutboxMessage(
        topic=CHANGED_TOPIC,
        payload={"incident_id": state.incident_id, "version": state.version,
                 "types": [e.type_name for e in events]},
        key=f"changed:{state.incident_id}:{state.version}",
    )


def declare_incident(
    *,
    deps: Deps,
    org_id: str,
    actor: str,
    title: str,
    severity: Severity = Severity.SEV3,
    status: Status = Status.INVESTIGATING,
    project_id: str | None = None,
    source: str = "chat",
    commander: str | None = None,
    summary: str = "",
    idempotency_key: str | None = None,
    check_role: bool = True,
) -> Result:
    """Open a new incident with the org's next human number (INC-n)."""
    incident_id = deps.ids.new_id()
    now = deps.clock.now()

    def build(number: int | None) -> cmd.Command:
        return cmd.DeclareIncident(
            org_id=org_id, incident_id=incident_id, actor=actor, occurred_at=now, number=number or 1,
            title=title, severity=severity, status=status, project_id=project_id, source=source,
            commander=commander, summary=summary,
        )

    return run_command(deps=deps, build=build, permission=Permission.DECLARE,
                       idempotency_key=idempotency_key, check_role=check_role)


def apply_command(
    *,
    deps: Deps,
    command: cmd.Command,
    permission: Permission = Permission.UPDATE,
    idempotency_key: str | None = None,
    check_role: bool = True,
) -> Result:
    """Run any non-declaring command against an existing incident."""
    return run_command(deps=deps, build=lambda _n: command, permission=permission,
                       idempotency_key=idempotency_key, check_role=check_role)


def change_status(*, deps: Deps, org_id: str, incident_id: str, actor: str, status: Status,
                  note: str = "", idempotency_key: str | None = None) -> Result:
    """Move the incident along its lifecycle."""
    return apply_command(deps=deps, idempotency_key=idempotency_key, command=cmd.ChangeStatus(
        org_id=org_id, incident_id=incident_id, actor=actor, occurred_at=deps.clock.now(),
        status=status, note=note))


def change_severity(*, deps: Deps, org_id: str, incident_id: str, actor: str, severity: Severity,
                    reason: str = "", idempotency_key: str | None = None) -> Result:
    """Raise or lower the severity."""
    return apply_command(deps=deps, idempotency_key=idempotency_key, command=cmd.ChangeSeverity(
        org_id=org_id, incident_id=incident_id, actor=actor, occurred_at=deps.clock.now(),
        severity=severity, reason=reason))


def assign_role(*, deps: Deps, org_id: str, incident_id: str, actor: str, role: IncidentRole,
                assignee: str, idempotency_key: str | None = None) -> Result:
    """Give someone the commander, communications or scribe role."""
    return apply_command(deps=deps, idempotency_key=idempotency_key, command=cmd.AssignRole(
        org_id=org_id, incident_id=incident_id, actor=actor, occurred_at=deps.clock.now(),
        role=role, assignee=assignee))


def add_note(*, deps: Deps, org_id: str, incident_id: str, actor: str, text: str,
             idempotency_key: str | None = None) -> Result:
    """Append a note to the timeline."""
    return apply_command(deps=deps, idempotency_key=idempotency_key, command=cmd.AddNote(
        org_id=org_id, incident_id=incident_id, actor=actor, occurred_at=deps.clock.now(), text=text))
