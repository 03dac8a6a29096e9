"""SimulatedExecutor: the ActionExecutor of the demo and tests — realistic output, nothing ever executed.

It only formats text: no subprocess, no sockets, no files. Output is deterministic for a given
action id and clock, so timelines and tests are reproducible.
"""

from __future__ import annotations

import hashlib
import shlex
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from incident_core.action_catalog import ActionKind
from incident_core.action_usecases import ExecutionRequest, ExecutionResult
from incident_core.ports import Clock

_POD_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # the alphabet of Kubernetes' generated name suffixes


class _UtcClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class SimulatedExecutor:
    """Pretends to run playbook actions: waits `delay_seconds`, then reports what would have happened."""

    def __init__(self, delay_seconds: float = 1.0, *, clock: Clock | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if delay_seconds < 0:
            raise ValueError("delay_seconds cannot be negative")
        self.delay_seconds = delay_seconds
        self.clock: Clock = clock or _UtcClock()
        self.sleep = sleep

    def execute(self, request: ExecutionRequest) -> ExecutionResult:
        """Simulate running the action; always succeeds and says so."""
        self._pause()
        kind = _kind(request.action)
        lines = _RUN[kind](_Ctx(request, self.clock.now())) if kind else _runbook(request.command)
        return ExecutionResult(succeeded=True, output="\n".join([*lines, _footer(request.command, bool(kind))]))

    def undo(self, request: ExecutionRequest) -> ExecutionResult:
        """Simulate the action's undo command; fails (without raising) when there is none."""
        self._pause()
        if not request.undo:
            return ExecutionResult(succeeded=False, output=f"nothing to undo: {request.action} has no undo command")
        kind = _kind(request.action)
        render = _UNDO.get(kind) if kind else None
        lines = render(_Ctx(request, self.clock.now())) if render else _runbook(request.undo)
        return ExecutionResult(succeeded=True, output="\n".join([*lines, _footer(request.undo, bool(render))]))

    def _pause(self) -> None:
        if self.delay_seconds > 0:
            self.sleep(self.delay_seconds)


def _footer(command: str, catalog: bool) -> str:
    if catalog:
        return f"[simulated] nothing was changed; the equivalent command is: {command}"
    return "[simulated] nothing was run or changed"


def _kind(action: str) -> ActionKind | None:
    try:
        kind = ActionKind(action)
    except ValueError:
        return None
    return None if kind is ActionKind.RUNBOOK_COMMAND else kind


class _Ctx:
    """The request's parameters plus deterministic names and timestamps derived from the action id."""

    def __init__(self, request: ExecutionRequest, now: datetime) -> None:
        self.p: dict[str, Any] = request.params
        self.now = now
        self.seed = request.action_id
        self.digest = hashlib.sha256(self.seed.encode()).digest()

    def suffix(self, label: str, size: int) -> str:
        digest = hashlib.sha256(f"{self.seed}:{label}".encode()).digest()
        return "".join(_POD_CHARS[b % len(_POD_CHARS)] for b in digest[:size])

    def pods(self, name: str, count: int) -> list[str]:
        template = self.suffix("template", 9)
        return [f"{name}-{template}-{self.suffix(f'pod{i}', 5)}" for i in range(count)]

    def at(self, seconds: int) -> str:
        return (self.now + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _rollout(name: str, replicas: int) -> list[str]:
    waiting = f'Waiting for deployment "{name}" rollout to finish:'
    steps = [f"{waiting} {i} out of {replicas} new replicas have been updated..." for i in range(1, replicas)]
    return [*steps, f"{waiting} 1 old replicas are pending termination...",
            f'deployment "{name}" successfully rolled out']


def _pod_table(c: _Ctx, name: str, count: int) -> list[str]:
    width = len(name) + 18
    rows = [f"{pod:<{width}}1/1     Running   0          {12 + 7 * i}s" for i, pod in enumerate(c.pods(name, count))]
    return [f"{'NAME':<{width}}READY   STATUS    RESTARTS   AGE", *rows]


def _deploy_table(name: str, replicas: int) -> list[str]:
    width = max(len(name), 4) + 3
    return [f"{'NAME':<{width}}READY   UP-TO-DATE   AVAILABLE   AGE",
            f"{name:<{width}}{f'{replicas}/{replicas}':<8}{replicas:<13}{replicas:<12}41d"]


def _restart(c: _Ctx) -> list[str]:
    d = c.p["deployment"]
    return [f"deployment.apps/{d} restarted", *_rollout(d, 3), *_pod_table(c, d, 3)]


def _scale(c: _Ctx, replicas: int, was: int) -> list[str]:
    d = c.p["deployment"]
    lines = [f"deployment.apps/{d} scaled", f"replicas: {was} → {replicas}"]
    if replicas > was:
        lines.append(f'Waiting for deployment "{d}" rollout to finish: {was} of {replicas} updated replicas '
                     "are available...")
    return [*lines, f'deployment "{d}" successfully rolled out', *_deploy_table(d, replicas)]


def _rollback(c: _Ctx, revision: int | None) -> list[str]:
    d = c.p["deployment"]
    target = f" to revision {revision}" if revision else " to the previous revision"
    return [f"deployment.apps/{d} rolled back", f"rolled back{target}", *_rollout(d, 3)]


def _flush(c: _Ctx) -> list[str]:
    keys = 1000 + int.from_bytes(c.digest[:3], "big") % 90000
    return ["OK", f"# {c.p['host']} db {c.p['db']}: {keys} keys before FLUSHDB, 0 after",
            "# the cache refills from the source of truth as requests arrive (expect a brief miss spike)"]


def _flag(c: _Ctx, value: str) -> list[str]:
    old = "off" if value == "on" else "on"
    clients = 4 + c.digest[0] % 20
    return [f"feature flag {c.p['flag']} ({c.p['environment']}): {old} → {value}",
            f"updated; {clients} SDK clients received the change within 2s"]


def _failover_db(c: _Ctx) -> list[str]:
    cluster = c.p["cluster"]
    target = c.p.get("target") or f"{cluster}-instance-2"
    return [f"failover of {cluster} started: promoting {target} to writer",
            f"{c.at(0)}  {cluster}  Started cross AZ failover to DB instance: {target}",
            f"{c.at(27)}  {cluster}  Completed failover to DB instance: {target}",
            f"{c.at(29)}  {cluster}  writer endpoint {cluster}.cluster-{c.suffix('endpoint', 12)} now resolves to {target}",
            f"{c.at(30)}  {cluster}  the previous writer rejoined as a reader"]


def _failover_region(c: _Ctx) -> list[str]:
    svc, src, dst = c.p["service"], c.p["from_region"], c.p["to_region"]
    return [f"traffic for {svc} failed over from {src} to {dst}",
            f"{c.at(0)}  health checks in {dst}: 3/3 passing",
            f"{c.at(4)}  weights {src} 100 → 0, {dst} 0 → 100",
            f"{c.at(64)}  DNS TTL (60s) elapsed; {src} drained, {dst} serving 100%"]


_RUN: dict[ActionKind, Callable[[_Ctx], list[str]]] = {
    ActionKind.RESTART_DEPLOYMENT: _restart,
    ActionKind.SCALE_DEPLOYMENT: lambda c: _scale(c, c.p["replicas"], c.p["current_replicas"]),
    ActionKind.ROLLBACK_DEPLOYMENT: lambda c: _rollback(c, c.p.get("to_revision")),
    ActionKind.FLUSH_CACHE: _flush,
    ActionKind.TOGGLE_FEATURE_FLAG: lambda c: _flag(c, c.p["value"]),
    ActionKind.FAILOVER_DATABASE: _failover_db,
    ActionKind.FAILOVER_REGION: _failover_region,
}
_UNDO: dict[ActionKind, Callable[[_Ctx], list[str]]] = {
    ActionKind.SCALE_DEPLOYMENT: lambda c: _scale(c, c.p["current_replicas"], c.p["replicas"]),
    ActionKind.ROLLBACK_DEPLOYMENT: lambda c: _rollback(c, c.p.get("current_revision")),
    ActionKind.TOGGLE_FEATURE_FLAG: lambda c: _flag(c, "off" if c.p["value"] == "on" else "on"),
}


def _runbook(command: str) -> list[str]:
    """`[simulated] would run: …` plus plausible output for read-only kubectl commands."""
    lines = [f"[simulated] would run: {command}"]
    try:
        tokens = shlex.split(command)
    except ValueError:
        return [*lines, "(no output: the command was not run)"]
    if not tokens or tokens[0].rsplit("/", 1)[-1] not in ("kubectl", "oc"):
        return [*lines, "(no output: the command was not run)"]
    return lines + _kubectl_output(tokens)


def _kubectl_output(tokens: list[str]) -> list[str]:
    words, namespace, selector, skip = [], "default", "", False
    for i, token in enumerate(tokens[1:], start=1):
        if skip:
            skip = False
        elif token in ("-n", "--namespace") and i + 1 < len(tokens):
            namespace, skip = tokens[i + 1], True
        elif token.startswith("--namespace="):
            namespace = token.split("=", 1)[1]
        elif token in ("-l", "--selector") and i + 1 < len(tokens):
            selector, skip = tokens[i + 1].split("=")[-1], True
        elif token in ("-o", "--output", "-c", "--container", "--tail", "--since"):
            skip = True
        elif not token.startswith("-"):
            words.append(token)
    verb, rest = (words[0] if words else ""), words[1:]
    resource = rest[0].split("/")[0] if rest else ""
    name = (rest[0].split("/", 1)[1] if "/" in (rest[0] if rest else "")
            else rest[1] if len(rest) > 1 else selector or "api")
    fake = _Ctx(ExecutionRequest("", "", "", name, "", "", {}, "", ""), datetime(2026, 1, 1, tzinfo=UTC))
    if verb == "get" and resource.startswith(("pod", "po")):
        return _pod_table(fake, name, 3)
    if verb == "get" and resource.startswith(("deploy", "deployment")):
        return _deploy_table(name, 3)
    if verb == "get":
        return ["NAME" + " " * max(len(name) - 1, 3) + "AGE", f"{name}    41d"]
    if verb == "describe":
        return [f"Name:         {name}", f"Namespace:    {namespace}", "Status:       Running",
                "Conditions:   Available=True, Progressing=True", "Events:       <none>"]
    if verb in ("logs", "log"):
        return ['2026-01-01T00:00:01Z level=info msg="request served" status=200 latency_ms=41',
                '2026-01-01T00:00:02Z level=warn msg="upstream slow" upstream=db latency_ms=1870',
                '2026-01-01T00:00:03Z level=error msg="request failed" status=503 error="context deadline exceeded"']
    if verb == "top":
        pods = fake.pods(name, 3) if not resource.startswith("node") else [f"node-{i}" for i in range(1, 4)]
        return ["NAME" + " " * 26 + "CPU(cores)   MEMORY(bytes)",
                *[f"{pod:<30}{120 + 85 * i}m         {210 + 40 * i}Mi" for i, pod in enumerate(pods)]]
    if verb == "rollout" and resource == "status":
        return [f'deployment "{name}" successfully rolled out']
    return ["(no output: the command was not run)"]
