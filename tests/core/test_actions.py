"""Playbook actions, pure: catalog and risk table, every gate, duplicates, undo rules, resolved incidents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from incident_core import actions as act
from incident_core import commands as cmd
from incident_core.action_catalog import CATALOG, ActionKind, plan_action
from incident_core.aggregate import decide
from incident_core.errors import (
    DuplicateRequest,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from incident_core.events import Event, event_from_record
from incident_core.model import IncidentRole, Status
from incident_core.risk import RiskLevel, assess
from incident_core.state import IncidentState, apply_all
from incident_core.timeline import describe

T0 = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
RESTART = {"deployment": "checkout", "namespace": "shop"}
FLUSH = {"host": "checkout-cache"}
FAILOVER = {"cluster": "orders-db", "target": "orders-db-2"}
ROLLBACK = {"deployment": "checkout", "namespace": "shop", "current_revision": 42}
SOURCE = "runbooks/api-latency.md#mitigation"


def incident(commander: str | None = "u:ic") -> IncidentState:
    events = decide(None, cmd.DeclareIncident(org_id="o", incident_id="i", actor="u:alice", occurred_at=T0,
                                              number=3, title="Checkout slow", commander=commander))
    return apply_all(None, events)  # type: ignore[return-value]


def run(state: IncidentState, command: cmd.Command) -> tuple[IncidentState, list[Event]]:
    events = decide(state, command)
    return apply_all(state, events), events  # type: ignore[return-value]


def env(actor: str = "u:alice", minutes: int = 1) -> dict[str, Any]:
    return {"org_id": "o", "incident_id": "i", "actor": actor, "occurred_at": T0 + timedelta(minutes=minutes)}


def request(state: IncidentState, action: str, params: dict[str, Any] | None = None, *, action_id: str = "a1",
            actor: str = "u:alice", **kw: Any) -> IncidentState:
    return run(state, act.RequestAction(**env(actor), action_id=action_id, action=action, params=params or {},
                                        **kw))[0]


def status(state: IncidentState, action_id: str = "a1") -> str:
    return str(state.actions[action_id].status)


def executed(state: IncidentState, action_id: str = "a1", ok: bool = True) -> IncidentState:
    return run(state, act.RecordActionResult(**env("u:alice", 2), action_id=action_id, succeeded=ok,
                                             output="deployment.apps/checkout scaled"))[0]


# --- catalog and risk ---------------------------------------------------------------------------

CATALOG_TABLE = [
    ("restart_deployment", RESTART, RiskLevel.LOW, None, False),
    ("scale_deployment", {"deployment": "checkout", "replicas": 6, "current_replicas": 3}, RiskLevel.LOW, None, True),
    ("scale_deployment", {"deployment": "checkout", "replicas": 1, "current_replicas": 3}, RiskLevel.MEDIUM,
     "confirmation", True),
    ("scale_deployment", {"deployment": "checkout", "replicas": 0, "current_replicas": 3}, RiskLevel.HIGH,
     "approval", True),
    ("rollback_deployment", ROLLBACK, RiskLevel.HIGH, "approval", True),
    ("rollback_deployment", {"deployment": "checkout"}, RiskLevel.HIGH, "approval", False),
    ("flush_cache", FLUSH, RiskLevel.MEDIUM, "confirmation", False),
    ("toggle_feature_flag", {"flag": "new-pricing", "value": "off"}, RiskLevel.LOW, None, True),
    ("failover_database", FAILOVER, RiskLevel.HIGH, "approval", False),
    ("failover_region", {"service": "checkout", "from_region": "us-east-1", "to_region": "us-west-2"},
     RiskLevel.HIGH, "approval", False),
]


@pytest.mark.parametrize("action,params,level,awaiting,undoable", CATALOG_TABLE)
def test_catalog_risk_comes_from_the_policy(action: str, params: dict[str, Any], level: RiskLevel,
                                            awaiting: str | None, undoable: bool) -> None:
    plan = plan_action(action, params)
    assert plan.risk is level is assess(action, plan.command).level
    assert plan.awaiting(confirmed=False) == awaiting
    assert bool(plan.undo) is undoable
    assert plan.reason == assess(action, plan.command).reason or "no automatic undo" in plan.reason


def test_every_catalog_kind_has_a_label_and_a_command() -> None:
    assert set(CATALOG) == set(ActionKind)
    assert ActionKind.RESTART_DEPLOYMENT.label == "restart deployment"
    plan = plan_action("restart deployment", RESTART)
    assert plan.command == "kubectl rollout restart deployment/checkout -n shop"
    assert plan.summary == "restart deployment checkout in shop"
    scale = plan_action("scale-deployment", {"deployment": "web", "replicas": "6", "current_replicas": 3})
    assert scale.command == "kubectl scale deployment/web -n default --replicas=6 --current-replicas=3"
    assert scale.undo == "kubectl scale deployment/web -n default --replicas=3 --current-replicas=6"
    flag = plan_action("toggle_feature_flag", {"flag": "new-pricing", "value": "off"})
    assert flag.undo == "featureflag set new-pricing on --env production"


@pytest.mark.parametrize("params,proposed,expected", [
    (RESTART, "high", RiskLevel.HIGH), (RESTART, "medium", RiskLevel.MEDIUM), (RESTART, "read-only", RiskLevel.LOW),
    (FAILOVER, "low", RiskLevel.HIGH), (RESTART, "nonsense", RiskLevel.LOW),
])
def test_a_proposed_risk_raises_but_never_lowers(params: dict[str, Any], proposed: str, expected: RiskLevel) -> None:
    action = "failover_database" if params is FAILOVER else "restart_deployment"
    plan = plan_action(action, params, proposed_risk=proposed)
    assert plan.risk is expected
    assert ("raised to" in plan.reason) is (expected is not assess(action, plan.command).level)


@pytest.mark.parametrize("action,params,kw,needle", [
    ("restart_deployment", {"deployment": "checkout; rm -rf /"}, {}, "not valid"),
    ("restart_deployment", {"deployment": "Checkout"}, {}, "not valid"),
    ("restart_deployment", {}, {}, "needs the deployment"),
    ("restart_deployment", {"deployment": "x", "force": True}, {}, "does not know force"),
    ("restart_deployment", {"deployment": "x"}, {"command": "rm -rf /"}, "builds its own command"),
    ("scale_deployment", {"deployment": "x", "replicas": True, "current_replicas": 3}, {}, "not valid"),
    ("scale_deployment", {"deployment": "x", "replicas": 3, "current_replicas": 3}, {}, "already runs 3"),
    ("failover_region", {"service": "x", "from_region": "eu-west-1", "to_region": "eu-west-1"}, {}, "differ"),
    ("reboot_the_world", {}, {}, "unknown action"),
    ("runbook_command", {}, {"command": "kubectl get pods"}, "needs its source"),
    ("runbook_command", {}, {"command": "kubectl get pods", "source": "  "}, "needs its source"),
    ("runbook_command", {}, {"source": SOURCE}, "cannot be empty"),
    ("runbook_command", {"x": 1}, {"command": "ls", "source": SOURCE}, "no parameters"),
    ("runbook_command", {}, {"command": "ls \x1b[2J", "source": SOURCE}, "control characters"),
])
def test_invalid_requests_are_refused(action: str, params: dict[str, Any], kw: dict[str, Any], needle: str) -> None:
    with pytest.raises(ValidationError, match=needle):
        plan_action(action, params, **kw)


def test_runbook_commands_need_a_citation_and_keep_only_a_concrete_undo() -> None:
    read = plan_action("runbook_command", command="kubectl get pods -n shop", source=SOURCE)
    assert (read.risk, read.source, read.undo) == (RiskLevel.READ_ONLY, SOURCE, None)
    stop = plan_action("runbook_command", command="systemctl stop nginx", source=SOURCE)
    assert (stop.risk, stop.undo) == (RiskLevel.HIGH, "systemctl start nginx")
    # The policy's undo drops `-n shop`: running it would hit the wrong namespace, so it is manual.
    scale = plan_action("runbook_command", source=SOURCE,
                        command="kubectl scale deployment/x -n shop --replicas=2 --current-replicas=5")
    assert scale.undo is None and "by hand" in scale.reason


# --- gates ----------------------------------------------------------------------------------------


def test_low_risk_is_cleared_to_run_on_request() -> None:
    state, events = run(incident(), act.RequestAction(**env(), action_id="a1", action="restart_deployment",
                                                      params=RESTART, source=SOURCE, suggestion_id="s1"))
    e = events[0]
    assert (e.type_name, e.risk, e.awaiting, e.source, e.suggestion_id) == (  # type: ignore[attr-defined]
        "ActionRequested", "low", None, SOURCE, "s1")
    assert status(state) == act.ActionStatus.REQUESTED
    assert describe(e) == ("requested restart deployment checkout in shop [low] "
                           "(from runbooks/api-latency.md#mitigation)")


def test_medium_waits_for_the_requesters_confirmation() -> None:
    state = request(incident(), "flush_cache", FLUSH)
    assert status(state) == "awaiting_confirmation"
    with pytest.raises(InvalidTransition, match="waits for alice to confirm"):
        executed(state)
    with pytest.raises(PermissionDenied, match="only alice"):
        run(state, act.ConfirmAction(**env("u:bob"), action_id="a1"))
    with pytest.raises(InvalidTransition, match="confirmation, not an approval"):
        run(state, act.ApproveAction(**env("u:bob"), action_id="a1", org_commander=True))
    confirmed, events = run(state, act.ConfirmAction(**env(), action_id="a1"))
    assert status(confirmed) == "confirmed" and describe(events[0]) == "confirmed flush cache checkout-cache (db 0) [medium]"
    assert status(executed(confirmed)) == "executed"
    with pytest.raises(InvalidTransition):
        run(confirmed, act.ConfirmAction(**env(), action_id="a1"))


def test_medium_confirmed_with_the_request_runs_at_once() -> None:
    state, events = run(incident(), act.RequestAction(**env(), action_id="a1", action="flush_cache", params=FLUSH,
                                                      confirmed=True))
    assert status(state) == "requested" and events[0].confirmed  # type: ignore[attr-defined]
    with pytest.raises(InvalidTransition, match="needs no confirmation"):
        run(state, act.ConfirmAction(**env(), action_id="a1"))


def test_high_needs_another_commander_even_when_confirmed() -> None:
    state = request(incident(), "failover_database", FAILOVER, actor="u:carol", confirmed=True)
    assert status(state) == "awaiting_approval"
    with pytest.raises(InvalidTransition, match="waits for a commander other than carol"):
        executed(state)
    with pytest.raises(PermissionDenied, match="second person"):
        run(state, act.ApproveAction(**env("u:carol"), action_id="a1", org_commander=True))
    with pytest.raises(PermissionDenied, match="high-risk actions need a commander"):
        run(state, act.ApproveAction(**env("u:bob"), action_id="a1", org_commander=False))
    approved, events = run(state, act.ApproveAction(**env("u:dave"), action_id="a1", org_commander=True))
    assert status(approved) == "approved" and approved.actions["a1"].approver == "u:dave"
    assert describe(events[0]) == "approved by dave: fail over database orders-db to orders-db-2 [high]"
    with pytest.raises(InvalidTransition, match="already approved by dave"):
        run(approved, act.ApproveAction(**env("u:ic"), action_id="a1"))
    done, events = run(approved, act.RecordActionResult(**env("u:dave"), action_id="a1", succeeded=True,
                                                        output="failover of orders-db started\nmore"))
    assert events[0].approver == "u:dave"  # type: ignore[attr-defined]
    assert describe(events[0]) == ("executed fail over database orders-db to orders-db-2 [high], approved by dave: "
                                   "failover of orders-db started")


def test_the_assigned_incident_commander_may_approve_without_the_org_role() -> None:
    state = request(incident(commander="u:ic"), "failover_database", FAILOVER)
    approved, _ = run(state, act.ApproveAction(**env("u:ic"), action_id="a1", org_commander=False))
    assert status(approved) == "approved"


def test_requesting_as_the_assigned_commander_still_needs_a_second_person() -> None:
    state = request(incident(commander="u:ic"), "failover_database", FAILOVER, actor="u:ic")
    with pytest.raises(PermissionDenied, match="second person"):
        run(state, act.ApproveAction(**env("u:ic"), action_id="a1", org_commander=True))


def test_a_denied_action_never_runs() -> None:
    state = request(incident(), "failover_database", FAILOVER)
    with pytest.raises(PermissionDenied, match="or a commander can deny"):
        run(state, act.DenyAction(**env("u:bob"), action_id="a1"))
    denied, events = run(state, act.DenyAction(**env("u:dave"), action_id="a1", reason="replica lag 40s",
                                               org_commander=True))
    assert status(denied) == "denied" and describe(events[0]).endswith("[high]: replica lag 40s")
    with pytest.raises(InvalidTransition, match="denied by dave .replica lag 40s.; it will not run"):
        executed(denied)
    with pytest.raises(InvalidTransition, match="denied"):
        run(denied, act.ApproveAction(**env("u:ic"), action_id="a1"))
    with pytest.raises(InvalidTransition, match="only a request still waiting"):
        run(denied, act.DenyAction(**env("u:dave"), action_id="a1", org_commander=True))


def test_the_requester_may_withdraw_a_waiting_request() -> None:
    state = request(incident(), "flush_cache", FLUSH)
    withdrawn, _ = run(state, act.DenyAction(**env(), action_id="a1", reason="not needed"))
    assert status(withdrawn) == "denied" and withdrawn.actions["a1"].denied_by == "u:alice"


# --- duplicates and results -------------------------------------------------------------------------


def test_the_same_action_id_is_a_duplicate_and_another_action_cannot_reuse_it() -> None:
    state = request(incident(), "restart_deployment", RESTART)
    with pytest.raises(DuplicateRequest):
        request(state, "restart_deployment", RESTART, actor="u:bob")
    with pytest.raises(ValidationError, match="already names restart deployment checkout"):
        request(state, "flush_cache", FLUSH)


def test_a_result_is_recorded_once() -> None:
    state = executed(request(incident(), "restart_deployment", RESTART))
    assert state.actions["a1"].output == "deployment.apps/checkout scaled"
    with pytest.raises(InvalidTransition, match="already ran .status executed.; an action runs once"):
        executed(state)
    failed = executed(request(incident(), "restart_deployment", RESTART), ok=False)
    assert status(failed) == "failed"
    with pytest.raises(InvalidTransition, match="already ran and failed"):
        executed(failed)


def test_long_output_is_truncated() -> None:
    state, events = run(request(incident(), "restart_deployment", RESTART), act.RecordActionResult(
        **env(), action_id="a1", succeeded=True, output="x" * 10_000))
    assert len(events[0].output) < 4100 and events[0].output.endswith("(output truncated)")  # type: ignore[attr-defined]


def test_unknown_action_ids_are_not_found() -> None:
    with pytest.raises(NotFound, match="INC-3 has no action 'nope'"):
        run(incident(), act.ApproveAction(**env(), action_id="nope"))


# --- undo -----------------------------------------------------------------------------------------

SCALE_UP = {"deployment": "checkout", "namespace": "shop", "replicas": 6, "current_replicas": 3}


def test_a_reversible_action_is_undone_once() -> None:
    state = executed(request(incident(), "scale_deployment", SCALE_UP))
    undone, events = run(state, act.UndoAction(**env("u:bob"), action_id="a1", output="deployment.apps/checkout scaled"))
    e = events[0]
    assert e.undo == "kubectl scale deployment/checkout -n shop --replicas=3 --current-replicas=6"  # type: ignore[attr-defined]
    assert status(undone) == "undone" and undone.actions["a1"].undone_by == "u:bob"
    assert describe(e) == "undid scale deployment checkout in shop from 3 to 6 replicas: deployment.apps/checkout scaled"
    with pytest.raises(InvalidTransition, match="already undone by bob"):
        run(undone, act.UndoAction(**env(), action_id="a1"))


def test_a_failed_undo_may_be_retried() -> None:
    state = executed(request(incident(), "scale_deployment", SCALE_UP))
    failed, _ = run(state, act.UndoAction(**env(), action_id="a1", succeeded=False, output="timeout"))
    assert status(failed) == "undo_failed"
    assert status(run(failed, act.UndoAction(**env(), action_id="a1", output="ok"))[0]) == "undone"


@pytest.mark.parametrize("action,params,needle", [
    ("flush_cache", FLUSH, "cannot be undone: flushing a cache"),
    ("restart_deployment", RESTART, "cannot be undone: it has no undo step"),
])
def test_irreversible_actions_cannot_be_undone(action: str, params: dict[str, Any], needle: str) -> None:
    state = executed(request(incident(), action, params, confirmed=True))
    with pytest.raises(InvalidTransition, match=needle):
        run(state, act.UndoAction(**env(), action_id="a1"))


def test_only_executed_actions_can_be_undone() -> None:
    waiting = request(incident(), "scale_deployment", {**SCALE_UP, "replicas": 1})
    with pytest.raises(InvalidTransition, match="has not run successfully"):
        run(waiting, act.UndoAction(**env(), action_id="a1"))
    failed = executed(request(incident(), "scale_deployment", SCALE_UP), ok=False)
    with pytest.raises(InvalidTransition, match="status failed"):
        run(failed, act.UndoAction(**env(), action_id="a1"))


def test_undoing_a_high_risk_action_needs_a_commander() -> None:
    state = request(incident(commander="u:ic"), "rollback_deployment", ROLLBACK)
    state = run(state, act.ApproveAction(**env("u:dave"), action_id="a1", org_commander=True))[0]
    state = executed(state)
    with pytest.raises(PermissionDenied, match="needs a commander"):
        run(state, act.UndoAction(**env("u:alice"), action_id="a1"))
    assert status(run(state, act.UndoAction(**env("u:ic"), action_id="a1"))[0]) == "undone"
    assert status(run(state, act.UndoAction(**env("u:x"), action_id="a1", org_commander=True))[0]) == "undone"


# --- resolved and closed incidents ------------------------------------------------------------------


def moved(state: IncidentState, target: Status) -> IncidentState:
    return run(state, cmd.ChangeStatus(**env("u:ic", 5), status=target))[0]


def test_no_action_runs_on_a_resolved_incident() -> None:
    waiting = request(incident(), "failover_database", FAILOVER)
    cleared = request(waiting, "restart_deployment", RESTART, action_id="a2")
    resolved = moved(cleared, Status.RESOLVED)
    with pytest.raises(InvalidTransition, match="INC-3 is resolved, so no actions run on it"):
        request(resolved, "restart_deployment", RESTART, action_id="a3")
    with pytest.raises(InvalidTransition, match="resolved"):
        run(resolved, act.ApproveAction(**env("u:dave"), action_id="a1", org_commander=True))
    with pytest.raises(InvalidTransition, match="resolved"):
        act.check_runnable(resolved, "a2")
    # A run that had already started is still recorded, and a waiting request can still be denied.
    assert status(executed(resolved, "a2"), "a2") == "executed"
    assert status(run(resolved, act.DenyAction(**env("u:ic"), action_id="a1"))[0]) == "denied"
    reopened = moved(resolved, Status.INVESTIGATING)
    assert status(request(reopened, "restart_deployment", RESTART, action_id="a3"), "a3") == "requested"


def test_undo_is_refused_on_a_resolved_incident() -> None:
    state = moved(executed(request(incident(), "scale_deployment", SCALE_UP)), Status.RESOLVED)
    with pytest.raises(InvalidTransition, match="resolved"):
        run(state, act.UndoAction(**env(), action_id="a1"))


def test_no_action_runs_on_a_closed_incident() -> None:
    state = moved(request(incident(), "flush_cache", FLUSH), Status.RESOLVED)
    closed = IncidentState(**{**state.__dict__, "status": Status.CLOSED})
    with pytest.raises(InvalidTransition, match="INC-3 is closed"):
        request(closed, "restart_deployment", RESTART, action_id="a2")
    with pytest.raises(InvalidTransition, match="closed"):
        run(closed, act.DenyAction(**env(), action_id="a1"))


# --- replay -----------------------------------------------------------------------------------------


def test_action_events_round_trip_and_replay_to_the_same_state() -> None:
    state = incident()
    history: list[Event] = []
    for command in (
        act.RequestAction(**env(), action_id="a1", action="rollback_deployment", params=ROLLBACK, source=SOURCE),
        act.ApproveAction(**env("u:dave"), action_id="a1", org_commander=True),
        act.RecordActionResult(**env("u:dave"), action_id="a1", succeeded=True, output="rolled back"),
        act.UndoAction(**env("u:ic"), action_id="a1", output="rolled forward"),
        cmd.AssignRole(**env(), role=IncidentRole.SCRIBE, assignee="u:sam"),
    ):
        state, events = run(state, command)
        history += events
    rebuilt = [event_from_record(type_name=e.type_name, data=e.payload(), org_id=e.org_id,
                                 incident_id=e.incident_id, version=e.version, occurred_at=e.occurred_at,
                                 actor=e.actor) for e in history]
    assert rebuilt == history
    assert apply_all(incident(), rebuilt) == state
    assert IncidentState.from_dict(state.to_dict()) == state
    assert state.actions["a1"].approver == "u:dave" and state.actions["a1"].undo_output == "rolled forward"
