"""Playbook action use cases: request, confirm, approve, deny, run and undo — each over the ports.

The executor runs between two transactions (never inside one: it may take seconds). Only the call
that wrote the transition making an action runnable (the request, the confirmation or the approval)
goes on to run it, so a double click — the same idempotency key or the same action id — runs once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from incident_core.actions import (
    RUNNABLE,
    ApproveAction,
    ConfirmAction,
    DenyAction,
    RecordActionResult,
    RequestAction,
    UndoAction,
    check_runnable,
    check_undoable,
    entry_of,
)
from incident_core.errors import DuplicateRequest, NotFound, ValidationError
from incident_core.events import Event
from incident_core.rbac import Permission, allows, require
from incident_core.state import IncidentState
from incident_core.state_models import ActionStatus
from incident_core.usecases import Deps, Result, apply_command, role_of


@dataclass(frozen=True)
class ExecutionRequest:
    """What an executor needs to run (or undo) one action; `command` is the exact line to run."""

    org_id: str
    incident_id: str
    human_id: str
    action_id: str
    action: str
    command: str
    params: dict[str, Any]
    risk: str
    requested_by: str
    source: str | None = None
    undo: str | None = None


@dataclass(frozen=True)
class ExecutionResult:
    """What the executor reports back; the output is recorded on the timeline."""

    succeeded: bool
    output: str


class ActionExecutor(Protocol):
    """Runs actions for real or in simulation; must be idempotent per `action_id`."""

    def execute(self, request: ExecutionRequest) -> ExecutionResult: ...

    def undo(self, request: ExecutionRequest) -> ExecutionResult: ...


class OutcomeStatus(StrEnum):
    """What the chat layer shows after a click."""

    EXECUTED = "executed"
    FAILED = "failed"
    AWAITING_CONFIRMATION = "awaiting_confirmation"
    AWAITING_APPROVAL = "awaiting_approval"
    DENIED = "denied"
    UNDONE = "undone"
    UNDO_FAILED = "undo_failed"
    RUNNING = "running"  # cleared to run; its result is not recorded yet (another click is running it)


@dataclass(frozen=True)
class ActionOutcome:
    """One action as it stands after a use case: enough to render its card."""

    action_id: str
    status: OutcomeStatus
    action: str
    summary: str
    risk: str
    reason: str
    command: str | None
    requested_by: str
    approver: str | None = None  # who approved it (high) or denied it
    source: str | None = None  # the runbook citation it came from
    output: str = ""  # the executor's output (or error text when it failed)
    undo: str | None = None  # the undo command, when the action has one
    undo_output: str = ""
    can_undo: bool = False  # executed, has an undo, incident still open
    duplicate: bool = False  # a repeated click: nothing was written or run
    state: IncidentState | None = field(default=None, repr=False, compare=False)


def outcome_of(state: IncidentState, action_id: str, *, duplicate: bool = False) -> ActionOutcome:
    """Render the action `action_id` of `state` as an ActionOutcome."""
    entry = entry_of(state, action_id)
    status = entry.status
    shown = OutcomeStatus.RUNNING if status in RUNNABLE else OutcomeStatus(status)
    undoable = (status in (ActionStatus.EXECUTED, ActionStatus.UNDO_FAILED) and bool(entry.undo)
                and state.status.is_open)
    return ActionOutcome(
        action_id=action_id, status=shown, action=entry.action, summary=entry.name,
        risk=entry.risk, reason=entry.reason, command=entry.command,
        requested_by=entry.requested_by, approver=entry.approver or entry.denied_by,
        source=entry.source, output=entry.output, undo=entry.undo,
        undo_output=entry.undo_output, can_undo=undoable, duplicate=duplicate, state=state,
    )


def get_action(*, deps: Deps, org_id: str, incident_id: str, action_id: str) -> ActionOutcome:
    """The current outcome of one action (for refreshing a card)."""
    state, _ = _load(deps, org_id, incident_id, None)
    return outcome_of(state, action_id)


def request_action(
    *,
    deps: Deps,
    executor: ActionExecutor,
    org_id: str,
    incident_id: str,
    actor: str,
    action: str,
    params: dict[str, Any] | None = None,
    command: str | None = None,
    source: str | None = None,
    proposed_risk: str | None = None,
    confirmed: bool = False,
    suggestion_id: str | None = None,
    action_id: str | None = None,
    idempotency_key: str | None = None,
) -> ActionOutcome:
    """Request an action; read-only/low (and medium with `confirmed`) run now, the rest wait for their gate."""
    action_id = action_id or deps.ids.new_id()
    request = RequestAction(
        org_id=org_id, incident_id=incident_id, actor=actor, occurred_at=deps.clock.now(), action_id=action_id,
        action=action, params=dict(params or {}), command=command, source=source, proposed_risk=proposed_risk,
        confirmed=confirmed, suggestion_id=suggestion_id)
    try:
        result = apply_command(deps=deps, command=request, permission=Permission.RUN_ACTION,
                               idempotency_key=idempotency_key)
    except DuplicateRequest:
        state, _ = _load(deps, org_id, incident_id, None)
        return outcome_of(state, action_id, duplicate=True)
    return _continue(deps, executor, result, actor)


def confirm_action(*, deps: Deps, executor: ActionExecutor, org_id: str, incident_id: str, actor: str,
                   action_id: str, idempotency_key: str | None = None) -> ActionOutcome:
    """The requester confirms a medium-risk action; it runs at once."""
    command = ConfirmAction(org_id=org_id, incident_id=incident_id, actor=actor, occurred_at=deps.clock.now(),
                            action_id=action_id)
    result = apply_command(deps=deps, command=command, permission=Permission.RUN_ACTION,
                           idempotency_key=idempotency_key)
    return _continue(deps, executor, result, actor)


def approve_action(*, deps: Deps, executor: ActionExecutor, org_id: str, incident_id: str, actor: str,
                   action_id: str, idempotency_key: str | None = None) -> ActionOutcome:
    """A commander other than the requester approves a high-risk action; it runs at once."""
    org_commander = _approver_role(deps, org_id, actor)
    command = ApproveAction(org_id=org_id, incident_id=incident_id, actor=actor, occurred_at=deps.clock.now(),
                            action_id=action_id, org_commander=org_commander)
    result = apply_command(deps=deps, command=command, idempotency_key=idempotency_key, check_role=False)
    return _continue(deps, executor, result, actor)


def deny_action(*, deps: Deps, org_id: str, incident_id: str, actor: str, action_id: str, reason: str = "",
                idempotency_key: str | None = None) -> ActionOutcome:
    """Refuse (or, as its requester, withdraw) a request still waiting for confirmation or approval."""
    org_commander = _approver_role(deps, org_id, actor)
    command = DenyAction(org_id=org_id, incident_id=incident_id, actor=actor, occurred_at=deps.clock.now(),
                         action_id=action_id, reason=reason, org_commander=org_commander)
    result = apply_command(deps=deps, command=command, idempotency_key=idempotency_key, check_role=False)
    return outcome_of(result.state, _action_id(result.events), duplicate=result.duplicate)


def execute_action(*, deps: Deps, executor: ActionExecutor, org_id: str, incident_id: str, actor: str,
                   action_id: str, idempotency_key: str | None = None) -> ActionOutcome:
    """Run an action that is cleared to run and record its result; one that already ran is refused."""
    require(role_of(deps=deps, org_id=org_id, actor=actor), Permission.RUN_ACTION, actor=actor)
    state, prior = _load(deps, org_id, incident_id, idempotency_key)
    if prior:
        return outcome_of(state, action_id, duplicate=True)
    check_runnable(state, action_id)
    return _run(deps, executor, state, action_id, actor, idempotency_key)


def undo_action(*, deps: Deps, executor: ActionExecutor, org_id: str, incident_id: str, actor: str,
                action_id: str, idempotency_key: str | None = None) -> ActionOutcome:
    """Undo an executed, reversible action (once); a high-risk one needs a commander."""
    role = role_of(deps=deps, org_id=org_id, actor=actor)
    require(role, Permission.RUN_ACTION, actor=actor)
    org_commander = allows(role, Permission.APPROVE_ACTION)
    state, prior = _load(deps, org_id, incident_id, idempotency_key)
    if prior:
        return outcome_of(state, action_id, duplicate=True)
    check_undoable(state, action_id, actor=actor, org_commander=org_commander)
    succeeded, output = _call(executor.undo, _execution_request(state, action_id))
    command = UndoAction(org_id=org_id, incident_id=incident_id, actor=actor, occurred_at=deps.clock.now(),
                         action_id=action_id, succeeded=succeeded, output=output, org_commander=org_commander)
    result = apply_command(deps=deps, command=command, idempotency_key=idempotency_key, check_role=False)
    return outcome_of(result.state, action_id, duplicate=result.duplicate)


# --- internals --------------------------------------------------------------------------------


def _approver_role(deps: Deps, org_id: str, actor: str) -> bool:
    """Whether the actor's org role may approve; viewers are refused outright."""
    role = role_of(deps=deps, org_id=org_id, actor=actor)
    if not allows(role, Permission.RUN_ACTION):
        require(role, Permission.APPROVE_ACTION, actor=actor)
    return allows(role, Permission.APPROVE_ACTION)


def _continue(deps: Deps, executor: ActionExecutor, result: Result, actor: str) -> ActionOutcome:
    action_id = _action_id(result.events)
    if result.duplicate or result.state.actions[action_id].status not in RUNNABLE:
        return outcome_of(result.state, action_id, duplicate=result.duplicate)
    return _run(deps, executor, result.state, action_id, actor, None)


def _run(deps: Deps, executor: ActionExecutor, state: IncidentState, action_id: str, actor: str,
         idempotency_key: str | None) -> ActionOutcome:
    succeeded, output = _call(executor.execute, _execution_request(state, action_id))
    command = RecordActionResult(org_id=state.org_id, incident_id=state.incident_id, actor=actor,
                                 occurred_at=deps.clock.now(), action_id=action_id, succeeded=succeeded,
                                 output=output)
    result = apply_command(deps=deps, command=command, idempotency_key=idempotency_key, check_role=False)
    return outcome_of(result.state, action_id, duplicate=result.duplicate)


def _call(fn: Callable[[ExecutionRequest], ExecutionResult], request: ExecutionRequest) -> tuple[bool, str]:
    try:
        got = fn(request)
        return bool(got.succeeded), str(got.output)
    except Exception as exc:  # noqa: BLE001 - any executor failure becomes a recorded failed run
        return False, f"the executor failed: {type(exc).__name__}: {exc}"


def _execution_request(state: IncidentState, action_id: str) -> ExecutionRequest:
    entry = entry_of(state, action_id)
    return ExecutionRequest(
        org_id=state.org_id, incident_id=state.incident_id, human_id=state.human_id, action_id=action_id,
        action=entry.action, command=entry.command or "", params=dict(entry.params),
        risk=entry.risk, requested_by=entry.requested_by, source=entry.source, undo=entry.undo,
    )


def _action_id(events: list[Event]) -> str:
    for event in events:
        found = getattr(event, "action_id", None)
        if isinstance(found, str):
            return found
    raise ValidationError("that idempotency key was already used for something other than an action")


def _load(deps: Deps, org_id: str, incident_id: str, key: str | None) -> tuple[IncidentState, bool]:
    with deps.uow(org_id) as tx:
        prior = tx.recorded(key) if key else None
        state = tx.load(incident_id)
    if state is None:
        raise NotFound(f"no incident {incident_id} in this org")
    return state, prior is not None

