"""Playbook actions: statuses, the request/confirm/approve/deny/run/undo commands and their deciders."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from incident_core import events as ev
from incident_core import richtext as rt
from incident_core.action_catalog import plan_action
from incident_core.commands import Command
from incident_core.decisions import clean, envelope
from incident_core.errors import (
    DuplicateRequest,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from incident_core.model import Status
from incident_core.risk import RiskLevel
from incident_core.state import IncidentState
from incident_core.state_models import ActionRecord
from incident_core.state_models import ActionStatus as ActionStatus  # its home before the state was typed
from incident_core.timeline import short_actor

MAX_OUTPUT = 4000


RUNNABLE = frozenset({ActionStatus.REQUESTED, ActionStatus.CONFIRMED, ActionStatus.APPROVED})
WAITING = frozenset({ActionStatus.AWAITING_CONFIRMATION, ActionStatus.AWAITING_APPROVAL})


# --- commands ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RequestAction(Command):
    action_id: str
    action: str
    params: dict[str, Any] = field(default_factory=dict)
    command: str | None = None
    source: str | None = None
    proposed_risk: str | None = None
    confirmed: bool = False
    suggestion_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class ConfirmAction(Command):
    action_id: str


@dataclass(frozen=True, kw_only=True)
class ApproveAction(Command):
    action_id: str
    org_commander: bool = False  # the actor's org role is commander or above (Permission.APPROVE_ACTION)


@dataclass(frozen=True, kw_only=True)
class DenyAction(Command):
    action_id: str
    reason: str = ""
    org_commander: bool = False


@dataclass(frozen=True, kw_only=True)
class RecordActionResult(Command):
    action_id: str
    succeeded: bool
    output: str


@dataclass(frozen=True, kw_only=True)
class UndoAction(Command):
    action_id: str
    succeeded: bool = True
    output: str = ""
    org_commander: bool = False


# --- rules ------------------------------------------------------------------------------------


def entry_of(s: IncidentState, action_id: str) -> ActionRecord:
    """The action's state entry; NotFound when this incident has no such action."""
    entry = s.actions.get(action_id)
    if entry is None:
        raise NotFound(f"{s.human_id} has no action {action_id!r}")
    return entry


def require_open(s: IncidentState) -> None:
    """Refuse actions on a resolved or closed incident, saying what to do instead."""
    if s.status is Status.CLOSED:
        raise InvalidTransition(f"{s.human_id} is closed; no actions run on it any more.")
    if not s.status.is_open:
        raise InvalidTransition(f"{s.human_id} is resolved, so no actions run on it. If the problem is back, "
                                "move it to investigating first.")


def blocked(entry: ActionRecord) -> str:
    """Why an action cannot run now, in a sentence."""
    what, status = entry.summary or entry.action, entry.status
    who = short_actor(str(entry.requested_by))
    return {
        "awaiting_confirmation": f"{what} is medium risk and waits for {who} to confirm it.",
        "awaiting_approval": f"{what} is high risk and waits for a commander other than {who} to approve it.",
        "denied": f"{what} was denied by {short_actor(str(entry.denied_by))}"
        + (f" ({entry.deny_reason})" if entry.deny_reason else "") + "; it will not run.",
        "failed": f"{what} already ran and failed; request it again to retry.",
    }.get(status, f"{what} already ran (status {status}); an action runs once — request it again to rerun it.")


def check_runnable(s: IncidentState, action_id: str, *, open_only: bool = True) -> ActionRecord:
    """The entry of an action that may run now; a domain error saying why not otherwise."""
    entry = entry_of(s, action_id)
    if open_only:
        require_open(s)
    if entry.status not in RUNNABLE:
        raise InvalidTransition(blocked(entry))
    return entry


def check_undoable(s: IncidentState, action_id: str, *, actor: str, org_commander: bool) -> ActionRecord:
    """The entry of an executed, reversible action the actor may undo (once)."""
    entry = entry_of(s, action_id)
    what = entry.summary or entry.action
    require_open(s)
    if entry.status == ActionStatus.UNDONE:
        raise InvalidTransition(_says(what, " was already undone by ", _who(entry.undone_by), "."))
    if entry.status not in (ActionStatus.EXECUTED, ActionStatus.UNDO_FAILED):
        raise InvalidTransition(f"{what} has not run successfully (status {entry.status}); nothing to undo.")
    if not entry.undo:
        why = entry.reason if not entry.reversible else "it has no undo step"
        raise InvalidTransition(f"{what} cannot be undone: {why}.")
    if entry.risk == RiskLevel.HIGH and not (org_commander or actor == s.commander):
        raise PermissionDenied(f"undoing {what} (high risk) needs a commander: an org commander or admin, "
                               f"or {s.human_id}'s assigned commander.")
    return entry


def _who(user: object) -> rt.Inline:
    """A person in an error message: each platform shows their name (never a ping: errors go to one person)."""
    raw = str(user or "")
    return rt.Mention(raw, short_actor(raw)) if ":" in raw else rt.Text(raw or "someone")


def _says(*parts: rt.Part) -> rt.Rich:
    return rt.doc(rt.para(*parts))


def _request(s: IncidentState, c: RequestAction) -> list[ev.Event]:
    action_id = clean(c.action_id, "the action id", 100)
    plan = plan_action(c.action, c.params, command=c.command, source=c.source, proposed_risk=c.proposed_risk)
    existing = s.actions.get(action_id)
    if existing is not None:
        if (existing.action, existing.command) != (plan.action.value, plan.command):
            raise ValidationError(f"action id {action_id} already names {existing.summary}; use a new id")
        raise DuplicateRequest(f"{existing.summary} was already requested as {action_id}")
    require_open(s)
    awaiting = plan.awaiting(c.confirmed)
    return [ev.ActionRequested(
        **envelope(s, c), action_id=action_id, action=plan.action.value, risk=plan.risk.value,
        command=plan.command, reversible=plan.reversible, undo=plan.undo, params=plan.params,
        summary=plan.summary, reason=plan.reason, source=plan.source,
        confirmed=c.confirmed and plan.risk is RiskLevel.MEDIUM, awaiting=awaiting, suggestion_id=c.suggestion_id)]


def _confirm(s: IncidentState, c: ConfirmAction) -> list[ev.Event]:
    entry = entry_of(s, c.action_id)
    require_open(s)
    if entry.status != ActionStatus.AWAITING_CONFIRMATION:
        raise InvalidTransition(blocked(entry) if entry.status not in RUNNABLE
                                else f"{entry.summary} needs no confirmation; it is cleared to run.")
    if c.actor != entry.requested_by:
        raise PermissionDenied(_says("only ", _who(entry.requested_by), f", who requested {entry.summary}, "
                                     "can confirm it; request it yourself if you want it run."))
    return [ev.ActionApproved(**envelope(s, c), action_id=c.action_id, approver=c.actor, confirmation=True,
                              summary=entry.summary, risk=entry.risk)]


def _approve(s: IncidentState, c: ApproveAction) -> list[ev.Event]:
    entry = entry_of(s, c.action_id)
    require_open(s)
    what = entry.summary
    if entry.status == ActionStatus.AWAITING_CONFIRMATION:
        raise InvalidTransition(_says(f"{what} is medium risk: it needs ", _who(entry.requested_by),
                                      "'s own confirmation, not an approval."))
    if entry.status != ActionStatus.AWAITING_APPROVAL:
        approved = entry.approver
        raise InvalidTransition(_says(f"{what} was already approved by ", _who(approved), ".") if approved
                                else blocked(entry) if entry.status not in RUNNABLE
                                else f"{what} needs no approval; it is cleared to run.")
    if c.actor == entry.requested_by:
        raise PermissionDenied(f"you requested {what}; a high-risk action needs a second person. "
                               "Ask another commander to approve it.")
    if not (c.org_commander or c.actor == s.commander):
        raise PermissionDenied(_says(_who(c.actor), f" cannot approve {what}: high-risk actions need a commander "
                                     f"(org role commander or admin, or {s.human_id}'s assigned commander)."))
    return [ev.ActionApproved(**envelope(s, c), action_id=c.action_id, approver=c.actor,
                              summary=what, risk=entry.risk)]


def _deny(s: IncidentState, c: DenyAction) -> list[ev.Event]:
    entry = entry_of(s, c.action_id)
    if s.status is Status.CLOSED:
        raise InvalidTransition(f"{s.human_id} is closed; its record can no longer change.")
    if entry.status not in WAITING:
        raise InvalidTransition(f"only a request still waiting for confirmation or approval can be denied; "
                                f"{entry.summary} is {entry.status.replace('_', ' ')}.")
    if not (c.actor == entry.requested_by or c.org_commander or c.actor == s.commander):
        raise PermissionDenied(_says("only ", _who(entry.requested_by), " (who requested it) or a commander "
                                     f"can deny {entry.summary}."))
    return [ev.ActionDenied(**envelope(s, c), action_id=c.action_id, approver=c.actor, summary=entry.summary,
                            risk=entry.risk, reason=clean(c.reason, "the reason", 500, required=False))]


def _output(text: str) -> str:
    return text if len(text) <= MAX_OUTPUT else text[:MAX_OUTPUT] + "\n… (output truncated)"


def _result(s: IncidentState, c: RecordActionResult) -> list[ev.Event]:
    # A result is recorded even if the incident was resolved meanwhile: the run already happened.
    entry = check_runnable(s, c.action_id, open_only=False)
    return [ev.ActionExecuted(**envelope(s, c), action_id=c.action_id, succeeded=c.succeeded,
                              output=_output(c.output), summary=entry.summary, risk=entry.risk,
                              approver=entry.approver)]


def _undo(s: IncidentState, c: UndoAction) -> list[ev.Event]:
    entry = check_undoable(s, c.action_id, actor=c.actor, org_commander=c.org_commander)
    return [ev.ActionUndone(**envelope(s, c), action_id=c.action_id, output=_output(c.output),
                            succeeded=c.succeeded, summary=entry.summary, undo=entry.undo)]


ACTION_DECIDERS: dict[type, Callable[[Any, Any], list[Any]]] = {
    RequestAction: _request,
    ConfirmAction: _confirm,
    ApproveAction: _approve,
    DenyAction: _deny,
    RecordActionResult: _result,
    UndoAction: _undo,
}
