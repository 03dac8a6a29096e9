"""Playbook actions end to end on the real store (SQLite and PostgreSQL): gates, idempotency, failures, undo."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa

from bot.bootstrap import App
from incident_core import action_usecases as au
from incident_core import usecases as uc
from incident_core.action_usecases import ExecutionRequest, ExecutionResult, OutcomeStatus
from incident_core.errors import InvalidTransition, PermissionDenied, ValidationError
from incident_core.model import IncidentRole, OrgRole, Status
from incident_core.timeline import describe
from publishers.simulator import SimulatedExecutor
from storage.engine import scope_to_org
from storage.projections import rebuild, snapshot
from storage.unit_of_work import EVENTS, OUTBOX
from tests.helpers import World, declare, new_org

RESTART = {"deployment": "checkout", "namespace": "shop"}
FAILOVER = {"cluster": "orders-db", "target": "orders-db-2"}
SCALE_UP = {"deployment": "checkout", "namespace": "shop", "replicas": 6, "current_replicas": 3}
MEMBERS = {"u:alice": OrgRole.RESPONDER, "u:bob": OrgRole.RESPONDER, "u:carol": OrgRole.COMMANDER,
           "u:dave": OrgRole.COMMANDER, "u:vic": OrgRole.VIEWER}


@dataclass
class Recording:
    """The simulator, counting what it was asked to do."""

    inner: SimulatedExecutor = field(default_factory=lambda: SimulatedExecutor(delay_seconds=0))
    runs: list[str] = field(default_factory=list)
    undos: list[str] = field(default_factory=list)

    def execute(self, request: ExecutionRequest) -> ExecutionResult:
        self.runs.append(request.action_id)
        return self.inner.execute(request)

    def undo(self, request: ExecutionRequest) -> ExecutionResult:
        self.undos.append(request.action_id)
        return self.inner.undo(request)


class Exploding:
    def execute(self, request: ExecutionRequest) -> ExecutionResult:
        raise ConnectionError("kube-apiserver unreachable")

    def undo(self, request: ExecutionRequest) -> ExecutionResult:
        raise TimeoutError("undo timed out")


def count(app: App, org_id: str, table: sa.Table) -> int:
    with app.engine.begin() as conn:
        scope_to_org(conn, org_id)
        return int(conn.execute(sa.select(sa.func.count()).select_from(table).where(table.c.org_id == org_id)).scalar() or 0)


@pytest.fixture
def world(app: App) -> World:
    return new_org(app, members=MEMBERS)


def open_incident(world: World) -> str:
    return declare(world, "Checkout latency").state.incident_id


def ask(world: World, incident_id: str, executor: Any, action: str, params: dict[str, Any] | None = None, *,
        actor: str = "u:alice", **kw: Any) -> au.ActionOutcome:
    return au.request_action(deps=world.deps, executor=executor, org_id=world.org.id, incident_id=incident_id,
                             actor=actor, action=action, params=params, **kw)


def types(world: World, incident_id: str) -> list[str]:
    return [e.type_name for e in world.app.queries.timeline(world.org.id, incident_id)]


def test_low_risk_runs_on_click_and_lands_on_the_timeline(world: World) -> None:
    inc, ex = open_incident(world), Recording()
    out = ask(world, inc, ex, "restart_deployment", RESTART, source="runbooks/checkout.md#restart")
    assert (out.status, out.risk, out.requested_by) == (OutcomeStatus.EXECUTED, "low", "u:alice")
    assert out.output.startswith("deployment.apps/checkout restarted") and "[simulated]" in out.output
    assert ex.runs == [out.action_id]
    timeline = world.app.queries.timeline(world.org.id, inc)
    assert [e.type_name for e in timeline] == ["IncidentDeclared", "ActionRequested", "ActionExecuted"]
    assert [describe(e) for e in timeline[1:]] == [
        "requested restart deployment checkout in shop [low] (from runbooks/checkout.md#restart)",
        "executed restart deployment checkout in shop [low]: deployment.apps/checkout restarted"]
    stored = world.app.queries.get(world.org.id, inc)
    assert stored is not None and stored.actions[out.action_id].status == "executed"


def test_medium_needs_the_requesters_confirmation(world: World) -> None:
    inc, ex = open_incident(world), Recording()
    out = ask(world, inc, ex, "flush_cache", {"host": "checkout-cache"})
    assert out.status is OutcomeStatus.AWAITING_CONFIRMATION and ex.runs == []
    with pytest.raises(PermissionDenied, match="only alice"):
        au.confirm_action(deps=world.deps, executor=ex, org_id=world.org.id, incident_id=inc, actor="u:bob",
                          action_id=out.action_id)
    done = au.confirm_action(deps=world.deps, executor=ex, org_id=world.org.id, incident_id=inc, actor="u:alice",
                             action_id=out.action_id)
    assert done.status is OutcomeStatus.EXECUTED and done.output.startswith("OK") and ex.runs == [out.action_id]
    confirmed_upfront = ask(world, inc, ex, "flush_cache", {"host": "sessions"}, confirmed=True)
    assert confirmed_upfront.status is OutcomeStatus.EXECUTED
    assert types(world, inc)[1:] == ["ActionRequested", "ActionApproved", "ActionExecuted",
                                     "ActionRequested", "ActionExecuted"]


def test_high_needs_a_different_commander(world: World) -> None:
    inc, ex = open_incident(world), Recording()
    out = ask(world, inc, ex, "failover_database", FAILOVER, actor="u:carol", confirmed=True)
    assert (out.status, out.risk) == (OutcomeStatus.AWAITING_APPROVAL, "high")

    def approve(actor: str) -> au.ActionOutcome:
        return au.approve_action(deps=world.deps, executor=ex, org_id=world.org.id, incident_id=inc, actor=actor,
                                 action_id=out.action_id)

    with pytest.raises(PermissionDenied, match="you requested .*second person"):
        approve("u:carol")
    with pytest.raises(PermissionDenied, match="high-risk actions need a commander"):
        approve("u:bob")
    with pytest.raises(PermissionDenied, match="viewer"):
        approve("u:vic")
    assert ex.runs == []
    done = approve("u:dave")
    assert (done.status, done.approver) == (OutcomeStatus.EXECUTED, "u:dave")
    assert done.output.startswith("failover of orders-db started: promoting orders-db-2 to writer")
    assert ex.runs == [out.action_id]
    lines = [describe(e) for e in world.app.queries.timeline(world.org.id, inc)[1:]]
    assert lines[1] == "approved by dave: fail over database orders-db to orders-db-2 [high]"
    assert lines[2].startswith("executed fail over database orders-db to orders-db-2 [high], approved by dave:")


def test_the_assigned_commander_approves_with_a_responder_org_role(world: World) -> None:
    inc, ex = open_incident(world), Recording()
    uc.assign_role(deps=world.deps, org_id=world.org.id, incident_id=inc, actor="u:alice",
                   role=IncidentRole.COMMANDER, assignee="u:bob")
    out = ask(world, inc, ex, "failover_database", FAILOVER)
    done = au.approve_action(deps=world.deps, executor=ex, org_id=world.org.id, incident_id=inc, actor="u:bob",
                             action_id=out.action_id)
    assert done.status is OutcomeStatus.EXECUTED


def test_viewers_cannot_run_anything(world: World) -> None:
    inc, ex = open_incident(world), Recording()
    with pytest.raises(PermissionDenied, match="viewer .* run playbook actions"):
        ask(world, inc, ex, "restart_deployment", RESTART, actor="u:vic")
    out = ask(world, inc, ex, "scale_deployment", SCALE_UP)
    with pytest.raises(PermissionDenied, match="viewer"):
        au.undo_action(deps=world.deps, executor=ex, org_id=world.org.id, incident_id=inc, actor="u:vic",
                       action_id=out.action_id)
    assert types(world, inc) == ["IncidentDeclared", "ActionRequested", "ActionExecuted"]


def test_the_same_click_twice_runs_once_and_writes_nothing(world: World, app: App) -> None:
    inc, ex = open_incident(world), Recording()
    first = ask(world, inc, ex, "restart_deployment", RESTART, idempotency_key="slack:click-1")
    before = (count(app, world.org.id, EVENTS), count(app, world.org.id, OUTBOX))
    again = ask(world, inc, ex, "restart_deployment", RESTART, idempotency_key="slack:click-1")
    assert again.duplicate and not first.duplicate
    assert (again.action_id, again.status, again.output) == (first.action_id, OutcomeStatus.EXECUTED, first.output)
    same_id = ask(world, inc, ex, "restart_deployment", RESTART, action_id=first.action_id,
                  idempotency_key="slack:click-2")
    assert same_id.duplicate and same_id.output == first.output
    assert (count(app, world.org.id, EVENTS), count(app, world.org.id, OUTBOX)) == before
    assert ex.runs == [first.action_id]
    with pytest.raises(InvalidTransition, match="already ran .status executed."):
        au.execute_action(deps=world.deps, executor=ex, org_id=world.org.id, incident_id=inc, actor="u:bob",
                          action_id=first.action_id)
    with pytest.raises(ValidationError, match="already names restart deployment"):
        ask(world, inc, ex, "flush_cache", {"host": "c"}, action_id=first.action_id)
    assert ex.runs == [first.action_id]


def test_a_double_approval_click_runs_once(world: World, app: App) -> None:
    inc, ex = open_incident(world), Recording()
    out = ask(world, inc, ex, "failover_database", FAILOVER)
    kw = dict(deps=world.deps, executor=ex, org_id=world.org.id, incident_id=inc, actor="u:dave",
              action_id=out.action_id, idempotency_key="slack:approve-1")
    first = au.approve_action(**kw)  # type: ignore[arg-type]
    before = count(app, world.org.id, EVENTS)
    second = au.approve_action(**kw)  # type: ignore[arg-type]
    assert second.duplicate and second.status is OutcomeStatus.EXECUTED and second.output == first.output
    assert count(app, world.org.id, EVENTS) == before and ex.runs == [out.action_id]


def test_a_raising_executor_records_a_failed_execution(world: World) -> None:
    inc = open_incident(world)
    out = ask(world, inc, Exploding(), "restart_deployment", RESTART)
    assert out.status is OutcomeStatus.FAILED
    assert out.output == "the executor failed: ConnectionError: kube-apiserver unreachable"
    last = world.app.queries.timeline(world.org.id, inc)[-1]
    assert describe(last) == ("failed to run restart deployment checkout in shop [low]: "
                              "the executor failed: ConnectionError: kube-apiserver unreachable")
    with pytest.raises(InvalidTransition, match="already ran and failed"):
        au.execute_action(deps=world.deps, executor=Recording(), org_id=world.org.id, incident_id=inc,
                          actor="u:alice", action_id=out.action_id)


def test_undo_runs_once(world: World, app: App) -> None:
    inc, ex = open_incident(world), Recording()
    out = ask(world, inc, ex, "scale_deployment", SCALE_UP)
    assert out.can_undo and out.undo == "kubectl scale deployment/checkout -n shop --replicas=3 --current-replicas=6"
    kw = dict(deps=world.deps, executor=ex, org_id=world.org.id, incident_id=inc, actor="u:bob",
              action_id=out.action_id, idempotency_key="slack:undo-1")
    undone = au.undo_action(**kw)  # type: ignore[arg-type]
    assert undone.status is OutcomeStatus.UNDONE and not undone.can_undo
    assert undone.undo_output.startswith("deployment.apps/checkout scaled\nreplicas: 6 → 3")
    before = count(app, world.org.id, EVENTS)
    assert au.undo_action(**kw).duplicate  # type: ignore[arg-type]
    assert count(app, world.org.id, EVENTS) == before and ex.undos == [out.action_id]
    with pytest.raises(InvalidTransition, match="already undone by bob"):
        au.undo_action(**{**kw, "idempotency_key": "slack:undo-2"})  # type: ignore[arg-type]
    assert types(world, inc)[-1] == "ActionUndone"


def test_a_raising_undo_is_recorded_and_may_be_retried(world: World) -> None:
    inc = open_incident(world)
    out = ask(world, inc, Recording(), "toggle_feature_flag", {"flag": "new-pricing", "value": "off"})
    failed = au.undo_action(deps=world.deps, executor=Exploding(), org_id=world.org.id, incident_id=inc,
                            actor="u:alice", action_id=out.action_id)
    assert failed.status is OutcomeStatus.UNDO_FAILED and "TimeoutError: undo timed out" in failed.undo_output
    ok = au.undo_action(deps=world.deps, executor=Recording(), org_id=world.org.id, incident_id=inc,
                        actor="u:alice", action_id=out.action_id)
    assert ok.status is OutcomeStatus.UNDONE and ok.undo_output.startswith("feature flag new-pricing (production): off → on")


def test_denied_actions_never_run(world: World) -> None:
    inc, ex = open_incident(world), Recording()
    out = ask(world, inc, ex, "failover_database", FAILOVER)
    denied = au.deny_action(deps=world.deps, org_id=world.org.id, incident_id=inc, actor="u:dave",
                            action_id=out.action_id, reason="replica lag")
    assert (denied.status, denied.approver) == (OutcomeStatus.DENIED, "u:dave")
    for call in (au.execute_action, au.approve_action):
        with pytest.raises(InvalidTransition, match="denied by dave"):
            call(deps=world.deps, executor=ex, org_id=world.org.id, incident_id=inc, actor="u:carol",
                 action_id=out.action_id)
    assert ex.runs == []


def test_runbook_commands_need_their_citation(world: World) -> None:
    inc, ex = open_incident(world), Recording()
    with pytest.raises(ValidationError, match="needs its source"):
        ask(world, inc, ex, "runbook_command", command="kubectl get pods -n shop")
    out = ask(world, inc, ex, "runbook_command", command="kubectl get pods -n shop -l app=checkout",
              source="runbooks/api-latency.md#mitigation")
    assert (out.status, out.risk, out.source) == (OutcomeStatus.EXECUTED, "read-only", "runbooks/api-latency.md#mitigation")
    assert out.output.startswith("[simulated] would run: kubectl get pods -n shop -l app=checkout\nNAME")


def test_actions_are_refused_on_a_resolved_incident(world: World) -> None:
    inc, ex = open_incident(world), Recording()
    uc.change_status(deps=world.deps, org_id=world.org.id, incident_id=inc, actor="u:alice", status=Status.RESOLVED)
    with pytest.raises(InvalidTransition, match="INC-1 is resolved, so no actions run on it"):
        ask(world, inc, ex, "restart_deployment", RESTART)
    assert ex.runs == []


def test_rebuilt_projections_keep_the_actions(world: World, app: App) -> None:
    inc, ex = open_incident(world), Recording()
    ask(world, inc, ex, "scale_deployment", SCALE_UP)
    ask(world, inc, ex, "failover_database", FAILOVER)
    before = snapshot(app.engine, world.org.id)
    rebuild(app.engine, org_ids=[world.org.id])
    assert snapshot(app.engine, world.org.id) == before
    state = app.queries.get(world.org.id, inc)
    assert state is not None and sorted(a.status for a in state.actions.values()) == [
        "awaiting_approval", "executed"]


# --- the simulator itself (no database) -------------------------------------------------------------


def _request(action: str, params: dict[str, Any], command: str, undo: str | None = None) -> ExecutionRequest:
    return ExecutionRequest(org_id="o", incident_id="i", human_id="INC-1", action_id="a1", action=action,
                            command=command, params=params, risk="low", requested_by="u:alice", undo=undo)


def test_the_simulator_takes_its_time_through_the_injected_sleep() -> None:
    slept: list[float] = []
    sim = SimulatedExecutor(delay_seconds=1.5, sleep=slept.append)
    restart = _request("restart_deployment", RESTART, "kubectl rollout restart deployment/checkout -n shop")
    first, second = sim.execute(restart), sim.execute(restart)
    assert slept == [1.5, 1.5] and first == second and first.succeeded
    assert first.output.splitlines()[-1] == ("[simulated] nothing was changed; the equivalent command is: "
                                             "kubectl rollout restart deployment/checkout -n shop")
    assert not sim.undo(restart).succeeded  # a restart has no undo command
    with pytest.raises(ValueError):
        SimulatedExecutor(delay_seconds=-1)


def test_the_simulator_never_imports_anything_that_could_execute() -> None:
    import ast
    import inspect

    import publishers.simulator as module

    tree = ast.parse(inspect.getsource(module))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)
                for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])}
    assert imported.isdisjoint({"subprocess", "os", "socket", "shutil", "pty", "asyncio", "urllib", "http"})
