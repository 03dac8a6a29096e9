"""The playbook action catalog and `plan_action`: validate a request and price it with the risk policy."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from incident_core import richtext as rt
from incident_core.decisions import clean
from incident_core.errors import ValidationError
from incident_core.model import ActionGate
from incident_core.risk import RiskLevel, assess, raise_only


class ActionKind(StrEnum):
    """The simulated actions a responder can run, plus verbatim commands cited from a runbook."""

    RESTART_DEPLOYMENT = "restart_deployment"
    SCALE_DEPLOYMENT = "scale_deployment"
    ROLLBACK_DEPLOYMENT = "rollback_deployment"
    FLUSH_CACHE = "flush_cache"
    TOGGLE_FEATURE_FLAG = "toggle_feature_flag"
    FAILOVER_DATABASE = "failover_database"
    FAILOVER_REGION = "failover_region"
    RUNBOOK_COMMAND = "runbook_command"

    @property
    def label(self) -> str:
        """What a person calls it ("restart deployment")."""
        return CATALOG[self].label


@dataclass(frozen=True)
class Param:
    """One parameter of a catalog action; values must fully match `pattern` (they end up in a command)."""

    name: str
    label: str
    pattern: str
    default: str | int | None = None
    optional: bool = False
    integer: bool = False


@dataclass(frozen=True)
class CatalogEntry:
    """A catalog action: its parameters, the command line people see, its summary and its undo."""

    label: str
    params: tuple[Param, ...]
    command: Callable[[dict[str, Any]], str]
    summary: Callable[[dict[str, Any]], str]
    undo: Callable[[dict[str, Any]], str | None] = lambda p: None
    check: Callable[[dict[str, Any]], str | None] = lambda p: None


_K8S = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"  # a Kubernetes DNS-1123 label
_COUNT = r"\d{1,4}"
_DEPLOY = (Param("deployment", "the deployment", _K8S), Param("namespace", "the namespace", _K8S, "default"))
_REGION = r"[a-z][a-z0-9-]{0,38}[a-z0-9]"


def _ns(p: dict[str, Any]) -> str:
    return "" if p["namespace"] == "default" else f" in {p['namespace']}"


def _kubectl(verb: str, p: dict[str, Any]) -> str:
    return f"kubectl {verb} deployment/{p['deployment']} -n {p['namespace']}"


CATALOG: dict[ActionKind, CatalogEntry] = {
    ActionKind.RESTART_DEPLOYMENT: CatalogEntry(
        "restart deployment", _DEPLOY, lambda p: _kubectl("rollout restart", p),
        lambda p: f"restart deployment {p['deployment']}{_ns(p)}"),
    ActionKind.SCALE_DEPLOYMENT: CatalogEntry(
        "scale deployment",
        (*_DEPLOY, Param("replicas", "the new replica count", _COUNT, integer=True),
         Param("current_replicas", "the current replica count", _COUNT, integer=True)),
        lambda p: _kubectl("scale", p) + f" --replicas={p['replicas']} --current-replicas={p['current_replicas']}",
        lambda p: f"scale deployment {p['deployment']}{_ns(p)} from {p['current_replicas']} to {p['replicas']} replicas",
        lambda p: _kubectl("scale", p) + f" --replicas={p['current_replicas']} --current-replicas={p['replicas']}",
        lambda p: f"{p['deployment']} already runs {p['replicas']} replicas"
        if p["replicas"] == p["current_replicas"] else None),
    ActionKind.ROLLBACK_DEPLOYMENT: CatalogEntry(
        "roll back deployment",
        (*_DEPLOY, Param("to_revision", "the revision to roll back to", _COUNT, optional=True, integer=True),
         Param("current_revision", "the revision running now", _COUNT, optional=True, integer=True)),
        lambda p: _kubectl("rollout undo", p) + (f" --to-revision={p['to_revision']}" if p["to_revision"] else ""),
        lambda p: f"roll back deployment {p['deployment']}{_ns(p)}"
        + (f" to revision {p['to_revision']}" if p["to_revision"] else " to its previous revision"),
        lambda p: _kubectl("rollout undo", p) + f" --to-revision={p['current_revision']}"
        if p["current_revision"] else None),
    ActionKind.FLUSH_CACHE: CatalogEntry(
        "flush cache",
        (Param("host", "the cache host", r"[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?"),
         Param("db", "the database number", r"\d{1,2}", 0, integer=True)),
        lambda p: f"redis-cli -h {p['host']} -n {p['db']} FLUSHDB",
        lambda p: f"flush cache {p['host']} (db {p['db']})"),
    ActionKind.TOGGLE_FEATURE_FLAG: CatalogEntry(
        "toggle feature flag",
        (Param("flag", "the flag name", r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"),
         Param("value", "the new value (on or off)", "on|off"),
         Param("environment", "the environment", r"[a-z0-9][a-z0-9_-]{0,39}", "production")),
        lambda p: f"featureflag set {p['flag']} {p['value']} --env {p['environment']}",
        lambda p: f"turn feature flag {p['flag']} {p['value']} in {p['environment']}",
        lambda p: f"featureflag set {p['flag']} {'off' if p['value'] == 'on' else 'on'} --env {p['environment']}"),
    ActionKind.FAILOVER_DATABASE: CatalogEntry(
        "fail over database",
        (Param("cluster", "the database cluster", r"[A-Za-z][A-Za-z0-9-]{0,62}"),
         Param("target", "the replica to promote", r"[A-Za-z][A-Za-z0-9-]{0,62}", optional=True)),
        lambda p: f"aws rds failover-db-cluster --db-cluster-identifier {p['cluster']}"
        + (f" --target-db-instance-identifier {p['target']}" if p["target"] else ""),
        lambda p: f"fail over database {p['cluster']}" + (f" to {p['target']}" if p["target"] else "")),
    ActionKind.FAILOVER_REGION: CatalogEntry(
        "fail over region",
        (Param("service", "the service", _K8S), Param("from_region", "the failing region", _REGION),
         Param("to_region", "the healthy region", _REGION)),
        lambda p: f"trafficctl failover {p['service']} --from {p['from_region']} --to {p['to_region']}",
        lambda p: f"fail over {p['service']} from {p['from_region']} to {p['to_region']}",
        check=lambda p: "the two regions must differ" if p["from_region"] == p["to_region"] else None),
    ActionKind.RUNBOOK_COMMAND: CatalogEntry(
        "run runbook command", (), lambda p: "", lambda p: "run a runbook command"),
}


@dataclass(frozen=True)
class ActionPlan:
    """What a request would record: the command, its policy risk (raised only), reason and undo."""

    action: ActionKind
    summary: str
    command: str
    params: dict[str, Any]
    risk: RiskLevel
    reason: str
    reversible: bool
    undo: str | None
    source: str | None
    title: str = ""  # the policy's own one-line description (a suggestion's title in chat)

    def awaiting(self, confirmed: bool) -> ActionGate | None:
        """Approval for high, confirmation for medium not yet confirmed, None when it may run now."""
        if self.risk.needs_approval:
            return ActionGate.APPROVAL
        return ActionGate.CONFIRMATION if self.risk.needs_confirmation and not confirmed else None


def parse_kind(action: str) -> ActionKind:
    """The catalog kind for `action` ("restart deployment", "restart_deployment", "restart-deployment")."""
    name = re.sub(r"[\s-]+", "_", (action or "").strip().lower())
    try:
        return ActionKind(name)
    except ValueError:
        known = ", ".join(k.value for k in ActionKind)
        raise ValidationError(f"unknown action {action[:60]!r}; the catalog has {known}") from None


def plan_action(action: str, params: Mapping[str, Any] | None = None, *, command: str | None = None,
                source: str | None = None, proposed_risk: str | None = None) -> ActionPlan:
    """Validate a request and price it with `risk.assess`; a proposed risk can raise it, never lower it."""
    kind = parse_kind(action)
    entry = CATALOG[kind]
    cite = _citation(source, required=kind is ActionKind.RUNBOOK_COMMAND)
    if kind is ActionKind.RUNBOOK_COMMAND:
        if params:
            raise ValidationError("a runbook command takes no parameters: it runs exactly as the runbook wrote it")
        text = clean(command or "", "the runbook command", 2000)
        if re.search(r"[\x00-\x08\x0b-\x1f\x7f]", text):
            raise ValidationError("the runbook command contains control characters; copy it from the runbook again")
        values: dict[str, Any] = {}
        summary = f"run {text if len(text) <= 80 else text[:79] + '…'}"
    else:
        if command:
            raise ValidationError(f"{entry.label} builds its own command; pass its parameters instead")
        values = _values(entry, dict(params or {}))
        text, summary = entry.command(values), entry.summary(values)
    judged = assess(kind.value, text)
    if judged.refused:
        raise ValidationError(rt.doc(rt.para(rt.code(rt.clip(text, 80)), f" is {judged.reason}")))
    level = raise_only(judged.level, proposed_risk)
    reason = judged.reason if level is judged.level else f"{judged.reason}; raised to {level.value} as proposed"
    if kind is ActionKind.RUNBOOK_COMMAND:
        undo = _concrete_undo(text, judged.undo) if judged.reversible else None
    else:
        undo = entry.undo(values) if judged.reversible else None
    if judged.undo and not undo:
        reason += f"; no automatic undo (by hand: {judged.undo})"
    title = judged.title if kind is ActionKind.RUNBOOK_COMMAND else summary[:1].upper() + summary[1:]
    return ActionPlan(kind, summary, text, values, level, reason, judged.reversible, undo, cite, title)


def _values(entry: CatalogEntry, given: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(given) - {p.name for p in entry.params})
    if unknown:
        names = ", ".join(p.name for p in entry.params)
        raise ValidationError(f"{entry.label} takes {names}; it does not know {', '.join(unknown)}")
    out: dict[str, Any] = {}
    for p in entry.params:
        raw = given.get(p.name)
        raw = p.default if raw is None or raw == "" else raw
        if raw is None:
            if not p.optional:
                raise ValidationError(f"{entry.label} needs {p.label} ({p.name})")
            out[p.name] = None
            continue
        text = str(raw).strip()
        if isinstance(raw, bool) or not re.fullmatch(p.pattern, text):
            raise ValidationError(f"{p.label} {text[:60]!r} is not valid for {entry.label}")
        out[p.name] = int(text) if p.integer else text
    problem = entry.check(out)
    if problem:
        raise ValidationError(f"cannot {entry.label}: {problem}")
    return out


def _citation(source: str | None, *, required: bool) -> str | None:
    text = (source or "").strip()
    if not text:
        if required:
            raise ValidationError("a runbook command needs its source (e.g. runbooks/api-latency.md#mitigation); "
                                  "commands from alerts, logs or chat are never run")
        return None
    if len(text) > 300 or re.search(r"[\x00-\x1f\x7f]", text):
        raise ValidationError("the runbook citation must be one line under 300 characters")
    return text


def _concrete_undo(command: str, undo: str | None) -> str | None:
    """Keep the policy's undo for a runbook command only when it is a runnable command in the same scope."""
    if not undo or "<" in undo or undo.split()[0] != command.split()[0]:
        return None
    scopes = re.findall(r"(?:^|\s)(--?(?:n|namespace|context|cluster|kubeconfig)[= ]\S+)", command)
    return undo if all(s in undo for s in scopes) else None
