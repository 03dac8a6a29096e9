"""Price a runbook step with the risk policy and find the playbook action a Run button may request.

Risk always comes from incident_core: `plan_action` when the step maps to a catalog action (or runs
its verbatim command), `risk.assess` otherwise. Parameters taken from alert labels are untrusted and
go through the catalog's strict patterns; a value that does not fit leaves the step without a button.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from incident_core.action_catalog import ActionKind, plan_action
from incident_core.errors import ValidationError
from incident_core.risk import assess

QUERY_LANGUAGES = frozenset({"promql", "logql", "traceql"})  # query languages that cannot change anything
_PLACEHOLDER = re.compile(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|<[^<>\s]+>|\{\{[^}]*\}\}")
_KEYWORDS = (
    (re.compile(r"\broll(?:ing|ed)?[ -]?back\b|\brollback\b", re.I), "rollback"),
    (re.compile(r"\bfail(?:ing|ed)?[ -]?over\b", re.I), "failover"),
    (re.compile(r"\bscale (?:it )?(?:down|in)\b", re.I), "scale_down"),
    (re.compile(r"\bscale (?:it )?(?:up|out)\b", re.I), "scale_up"),
    (re.compile(r"\bdrain\b", re.I), "drain"),
    (re.compile(r"\bflush\b", re.I), "flush"),
    (re.compile(r"\brestart\b", re.I), "restart"),
    (re.compile(r"\bfeature flag\b", re.I), "flag"),
)
_BY_KEYWORD = {"rollback": ActionKind.ROLLBACK_DEPLOYMENT, "restart": ActionKind.RESTART_DEPLOYMENT}
_ROLLOUT = {"undo": ActionKind.ROLLBACK_DEPLOYMENT, "restart": ActionKind.RESTART_DEPLOYMENT}


@dataclass(frozen=True)
class Priced:
    """A step's policy risk, its reason and undo, and the playbook action (kind, params) it may run as."""

    risk: str
    reason: str
    reversible: bool
    undo: str | None = None
    action: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    title: str = ""  # the policy's own description of the step (its title in chat)


def keyword_of(text: str) -> str | None:
    """The risk-relevant action a step's prose names (rollback, failover, restart…), or None."""
    return next((name for pattern, name in _KEYWORDS if pattern.search(text)), None)


def has_placeholder(command: str) -> bool:
    """True when the command has `$VAR`, `${VAR}`, `<thing>` or `{{ var }}` to fill in by hand."""
    return bool(_PLACEHOLDER.search(command))


def price(command: Mapping[str, str] | None, step: str, source: str, labels: Mapping[str, str]) -> Priced | None:
    """Price one step; None when it has no command and names no recognised action."""
    if command:
        text, language = str(command.get("command", "")), str(command.get("language", "")).lower()
        if language in QUERY_LANGUAGES:
            return _assessed("query", None)
        if has_placeholder(text):
            mapped = _from_command(text, labels)
            return (_planned(mapped[0], mapped[1], source) if mapped else None) or _assessed("runbook_command", text)
        return _planned(ActionKind.RUNBOOK_COMMAND, {}, source, command=text) or _assessed("runbook_command", text)
    keyword = keyword_of(step)
    if keyword is None:
        return None
    kind = _BY_KEYWORD.get(keyword)
    params = _deployment(labels) if kind else None
    return (_planned(kind, params, source) if kind and params else None) or _assessed(keyword, None)


def _assessed(action: str, command: str | None) -> Priced:
    verdict = assess(action, command)
    return Priced(verdict.level.value, verdict.reason, verdict.reversible, verdict.undo, title=verdict.title)


def _planned(kind: ActionKind, params: dict[str, Any], source: str, command: str | None = None) -> Priced | None:
    try:
        plan = plan_action(kind.value, params or None, command=command, source=source)
    except ValidationError:
        return None  # e.g. an alert label that is not a valid deployment name: no button, never a guess
    return Priced(plan.risk.value, plan.reason, plan.reversible, plan.undo, plan.action.value, dict(plan.params),
                  plan.title)


def _deployment(labels: Mapping[str, str], name: str | None = None, namespace: str | None = None) -> dict | None:
    deployment = name or labels.get("deployment") or labels.get("app") or labels.get("service")
    if not deployment:
        return None
    return {"deployment": deployment, "namespace": namespace or labels.get("namespace") or "default"}


def _fill(token: str | None, labels: Mapping[str, str], *names: str) -> str | None:
    if token is None or not has_placeholder(token):
        return token
    return next((labels[n] for n in names if labels.get(n)), None)


def _from_command(command: str, labels: Mapping[str, str]) -> tuple[ActionKind, dict[str, Any]] | None:
    """`kubectl -n "$NS" rollout undo|restart deployment/"$DEPLOY"` → the catalog action with labels filled in."""
    try:
        tokens = shlex.split(command.split("\n", 1)[0])
    except ValueError:
        return None
    if not tokens or tokens[0] != "kubectl" or "rollout" not in tokens:
        return None
    after = tokens[tokens.index("rollout") + 1:]
    kind = _ROLLOUT.get(after[0]) if after else None
    target = next((t for t in after[1:] if t.startswith(("deployment/", "deploy/"))), None)
    if kind is None or target is None:
        return None
    raw_namespace = next((tokens[i + 1] for i, t in enumerate(tokens[:-1]) if t in ("-n", "--namespace")), None)
    namespace = _fill(raw_namespace, labels, "namespace")
    name = _fill(target.split("/", 1)[1], labels, "deployment", "app", "service")
    if not name or (raw_namespace is not None and namespace is None):
        return None  # a placeholder the incident's labels cannot fill: run it by hand
    return kind, {"deployment": name, "namespace": namespace or "default"}
