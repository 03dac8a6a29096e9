"""Deterministic risk policy for suggested actions and commands; a model may raise risk, never lower it."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from enum import StrEnum


class RiskLevel(StrEnum):
    """Risk of running something, ordered read-only < low < medium < high (comparisons use that order)."""

    READ_ONLY = "read-only"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        """0 for read-only … 3 for high."""
        return list(RiskLevel).index(self)

    @property
    def needs_confirmation(self) -> bool:
        """Medium and high need an explicit confirmation before running."""
        return self.rank >= 2

    @property
    def needs_approval(self) -> bool:
        """High needs a commander's approval (a second person)."""
        return self is RiskLevel.HIGH

    def __lt__(self, other: object) -> bool:
        return self.rank < RiskLevel(other).rank  # type: ignore[arg-type]

    def __le__(self, other: object) -> bool:
        return self.rank <= RiskLevel(other).rank  # type: ignore[arg-type]

    def __gt__(self, other: object) -> bool:
        return self.rank > RiskLevel(other).rank  # type: ignore[arg-type]

    def __ge__(self, other: object) -> bool:
        return self.rank >= RiskLevel(other).rank  # type: ignore[arg-type]


def raise_only(policy_level: RiskLevel, proposed: RiskLevel | str | None) -> RiskLevel:
    """The policy level, raised to `proposed` if that is riskier; an unknown proposal changes nothing."""
    try:
        return max(RiskLevel(policy_level), RiskLevel(proposed or policy_level))
    except ValueError:
        return RiskLevel(policy_level)


@dataclass(frozen=True)
class RiskAssessment:
    """The policy's verdict: level, the sentence a responder reads, and whether/how to undo it."""

    level: RiskLevel
    reason: str
    reversible: bool
    undo: str | None = None


R, L, M, H = RiskLevel.READ_ONLY, RiskLevel.LOW, RiskLevel.MEDIUM, RiskLevel.HIGH
Verdict = tuple[RiskLevel, str, bool, str | None]
_CONSEQUENCE = {R: "read-only, safe to run", L: "low risk", M: "medium risk, needs confirmation",
                H: "high risk, needs a commander's approval"}
# Shell chaining and substitution: each piece is judged on its own and the riskiest wins.
_CHAIN = re.compile(r"&&|\|\||[;|&\n`]|\$\(")
_REDIRECT = re.compile(r"\d*>&\d*-?|&>>?")
_WRITES_FILE = re.compile(r"(?<![<>&\d])\d?>>?\s*(?!/dev/null)[^\s&]")
_READ_VERBS = frozenset(
    "get describe logs log top explain status list ls show query check version history diff events inspect "
    "info stats ps cat search lint validate plan output whoami can-i api-resources cluster-info members "
    "health ping port-forward wait auth".split()
)
_HIGH_VERBS = frozenset(
    "delete destroy terminate purge drop wipe failover switchover uninstall rollback drain stop reboot".split()
)
_READ_PROGRAMS = frozenset(
    "cat less more head tail grep egrep zgrep rg ls ps df du free uptime dig nslookup host ping traceroute "
    "mtr top htop netstat ss lsof journalctl dmesg echo date whoami id hostname uname vmstat iostat wc sort "
    "uniq jq yq stat file which awk sed".split()
)
_WRAPPERS = frozenset("sudo env nohup nice time watch xargs timeout exec command".split())
_VALUE_FLAGS = frozenset("-n --namespace --context --cluster --kubeconfig -l --selector -o --output -c "
                         "--container -u --user -s --signal --region --profile --project".split())
_SQL_WRITE = re.compile(
    r"\b(insert\s+into|update\s+[\w.\"`]+\s+set|delete\s+from|drop\s+(table|database|schema|index|view|user|role)"
    r"|truncate|alter\s+(table|database|system|user|role|index)|grant\s[^;]{0,200}?\s(on|to)"
    r"|revoke\s[^;]{0,200}?\s(on|from)|create\s+(table|database|index|user|role))\b",
    re.I,
)
_SQL_READ = re.compile(r"^\W*(select|show|explain|describe|desc|with)\b", re.I)
# Functions and clauses that make a SELECT act: ending sessions, changing settings, taking locks.
_SQL_ACTS = re.compile(
    r"\b(pg_terminate_backend|pg_cancel_backend|pg_reload_conf|pg_rotate_logfile|pg_switch_wal|pg_promote"
    r"|pg_drop_replication_slot|pg_create_\w+_replication_slot|pg_advisory\w*lock\w*|set_config|setval|nextval"
    r"|lo_unlink|dblink_exec|pg_read_file|pg_ls_dir|for\s+(no\s+key\s+)?update|for\s+share|into\s+(temp\w*\s+)?[\w.\"`]+\s+from)\b",
    re.I,
)
_SQL_CLIENTS = frozenset("psql mysql mariadb sqlite3 clickhouse-client cqlsh sqlcmd".split())
_SHELLS = frozenset("sh bash zsh dash".split())


def split_command(command: str) -> list[str]:
    """Split a shell command on chaining (`;`, `&&`, `||`, `|`, `&`, backticks, `$(`) into its parts."""
    parts = _CHAIN.split(_REDIRECT.sub(" ", command))
    return [part.strip() for part in parts if re.search(r"\w", part)]


def _tokens(part: str) -> list[str]:
    try:
        tokens = shlex.split(part)
    except ValueError:
        tokens = part.split()
    while tokens and (tokens[0].rsplit("/", 1)[-1] in _WRAPPERS or re.match(r"^\w+=", tokens[0])):
        tokens = tokens[1:]  # sudo, env VAR=x, timeout 5, xargs -n1 … : judge the wrapped command
        while tokens and (tokens[0].startswith("-") or tokens[0].isdigit() or re.match(r"^\w+=", tokens[0])):
            tokens = tokens[1:]
    return tokens


def _positionals(tokens: list[str]) -> list[str]:
    out, skip = [], False
    for token in tokens:
        if skip:
            skip = False
        elif token.startswith("-"):
            skip = token in _VALUE_FLAGS
        else:
            out.append(token.rstrip(")"))
    return out


def _flag(tokens: list[str], name: str) -> str | None:
    for i, token in enumerate(tokens):
        if token.startswith(name + "="):
            return token.split("=", 1)[1]
        if token == name and i + 1 < len(tokens):
            return tokens[i + 1]
    return None


def _judge(level: RiskLevel, what: str, reversible: bool, undo: str | None) -> RiskAssessment:
    if what.endswith(tuple(_CONSEQUENCE.values())):
        return RiskAssessment(level, what, reversible, undo)
    return RiskAssessment(level, f"{what}{'; ' if ':' in what else ': '}{_CONSEQUENCE[level]}", reversible, undo)


def _kubectl(tokens: list[str]) -> Verdict:
    args = _positionals(tokens[1:]) + ["", ""]
    verb, sub, target = args[0], args[1], " ".join(a for a in args[1:3] if a)
    if verb == "rollout":
        res = " ".join(args[2:4]).strip() or "<resource>"
        return {
            "status": (R, "kubectl rollout status only reads", True, None),
            "history": (R, "kubectl rollout history only reads", True, None),
            "restart": (L, "kubectl rollout restart recreates pods from the same spec", True, None),
            "undo": (H, "kubectl rollout undo rolls back to an older revision", True,
                     f"kubectl rollout undo {res} --to-revision=<the revision before this rollback>"),
            "pause": (M, "kubectl rollout pause stops a rollout midway", True, f"kubectl rollout resume {res}"),
            "resume": (L, "kubectl rollout resume continues a paused rollout", True, f"kubectl rollout pause {res}"),
        }.get(sub, (M, f"kubectl rollout {sub[:40]} is not a known rollout step: treat with care", False, None))
    if verb == "scale":
        wanted, current = _flag(tokens, "--replicas"), _flag(tokens, "--current-replicas")
        back = f"kubectl scale {target} --replicas={current or '<previous count>'}"
        if wanted is None or not wanted.isdigit():
            return M, "kubectl scale without a replica count: treat with care", False, None
        if int(wanted) == 0:
            return H, "kubectl scale to 0 replicas takes the workload down", True, back
        if current and current.isdigit() and int(wanted) < int(current):
            return M, "kubectl scale down removes capacity", True, back
        return L, "kubectl scale up adds replicas", True, back
    if verb in ("cordon", "drain"):
        what = "stops new pods landing on the node" if verb == "cordon" else "evicts every pod from the node"
        return (M if verb == "cordon" else H), f"kubectl {verb} {what}", True, f"kubectl uncordon {sub or '<node>'}"
    if verb == "uncordon":
        return L, "kubectl uncordon lets pods land on the node again", True, f"kubectl cordon {sub or '<node>'}"
    if verb == "delete":
        return H, "kubectl delete removes resources", False, None
    if verb in _READ_VERBS or verb == "api-versions":
        return R, f"kubectl {verb} only reads", True, None
    if verb in "apply patch edit set replace label annotate create expose autoscale taint".split():
        return M, f"kubectl {verb} changes cluster configuration", False, None
    return M, f"kubectl {verb[:40] or '(no verb)'} may change the cluster: treat with care", False, None


def _sql(part: str, program: str) -> Verdict | None:
    found = _SQL_WRITE.search(part)
    if found:
        return H, f"a database write ({found.group(1).split()[0].upper()}) changes data", False, None
    acts = _SQL_ACTS.search(part)
    if acts:
        name = acts.group(1).split("(")[0].lower()
        if name in ("pg_terminate_backend", "pg_drop_replication_slot", "pg_promote", "lo_unlink", "dblink_exec"):
            return H, f"a SQL statement calling {name} ends sessions or changes the database", False, None
        return M, f"a SQL statement using {' '.join(name.split())} changes server state or takes locks", False, None
    for candidate in (part, *re.findall(r"[\"']([^\"']*)", part)):
        if _SQL_READ.match(candidate):
            return R, "a SQL query that only reads", True, None
    return None


def _service(program: str, args: list[str]) -> Verdict:
    verb, unit = (args + ["", ""])[:2] if program == "systemctl" else (args + ["", ""])[1::-1][:2]
    unit = unit or "<unit>"
    return {
        "restart": (L, f"{program} restart restarts the service", True, None),
        "reload": (L, f"{program} reload reloads the service's configuration", True, None),
        "start": (L, f"{program} start starts the service", True, f"systemctl stop {unit}"),
        "stop": (H, f"{program} stop takes the service down", True, f"systemctl start {unit}"),
    }.get(verb, (R, f"{program} {verb} only reads", True, None) if verb in _READ_VERBS
          else (M, f"{program} {verb[:40]} changes the service: treat with care", False, None))


def _http(program: str, tokens: list[str]) -> Verdict:
    method = (_flag(tokens, "-X") or _flag(tokens, "--request") or "GET").upper()
    sends = any(t.startswith(("-d", "--data", "-F", "--form", "-T", "--upload", "--post")) for t in tokens)
    if method == "DELETE":
        return H, f"{program} -X DELETE deletes a remote resource", False, None
    if method != "GET" or sends:
        return M, f"{program} sends a write request to an HTTP endpoint", False, None
    return R, f"{program} only fetches a URL", True, None


def classify_part(part: str, tokens: list[str]) -> Verdict:
    """The verdict (level, what it does, reversible, undo) for one command without chaining."""
    program = tokens[0].rsplit("/", 1)[-1].lower()[:40] if tokens else ""
    args = _positionals(tokens[1:])
    lowered = [a.lower() for a in args]
    verb = lowered[0] if lowered else ""
    if program in _SHELLS and _flag(tokens, "-c"):
        inner = _assess_command(_flag(tokens, "-c") or "")
        return inner.level, f"{program} -c runs a command: {inner.reason}", inner.reversible, inner.undo
    sql = _sql(part, program)
    if sql is not None and (sql[0] is H or program in _SQL_CLIENTS or _SQL_READ.match(part)):
        return sql
    if any(t == "--force" or t.startswith(("--force=", "--force-")) for t in tokens):
        return H, f"{program} --force skips the usual safety checks", False, None
    if program in ("rm", "shred", "dd", "mkfs", "fdisk", "wipefs") or program.startswith("mkfs."):
        return H, f"{program} destroys data on disk", False, None
    if program in ("kill", "pkill", "killall"):
        if any(t in ("-9", "-KILL", "-SIGKILL") for t in tokens) or _flag(tokens, "-s") in ("KILL", "9"):
            return H, f"{program} -9 kills processes without letting them clean up", False, None
        return M, f"{program} stops processes", False, None
    if program in ("shutdown", "reboot", "halt", "poweroff"):
        return H, f"{program} takes the machine down", False, None
    if program in ("kubectl", "oc"):
        return _kubectl(tokens)
    if program in _SQL_CLIENTS:
        return M, f"an interactive {program} session may change data: treat with care", False, None
    if program == "pg_ctl" and "promote" in lowered:
        return H, "pg_ctl promote makes a replica the primary (a failover)", False, None
    if any("flush" in a for a in lowered) or ("cache" in part.lower() and ("purge" in lowered or "clear" in lowered)):
        return M, "flushing a cache drops every entry and cannot be undone", False, None
    if "flag" in part.lower() and any(a in ("toggle", "enable", "disable", "on", "off", "set") for a in lowered):
        return L, "toggling a feature flag", True, "set the flag back to its previous value"
    if program in ("systemctl", "service"):
        return _service(program, lowered)
    if program in ("docker", "podman") and verb in ("restart", "stop", "kill", "rm", "rmi", "prune", "system"):
        if verb == "restart":
            return L, f"{program} restart restarts the container", True, None
        return H, f"{program} {verb} stops or removes containers", False, None
    if program in ("curl", "wget", "http"):
        return _http(program, tokens)
    if program == "redis-cli" and verb in ("get", "info", "ping", "keys", "scan", "ttl", "slowlog", "dbsize"):
        return R, f"redis-cli {verb} only reads", True, None
    if program in _READ_PROGRAMS and not (program == "sed" and any(t.startswith("-i") for t in tokens)):
        return R, f"{program} only reads", True, None
    if program == "helm" and verb == "rollback":
        release = args[1] if len(args) > 1 else "<release>"
        return H, "helm rollback rolls a release back", True, f"helm rollback {release} <the revision before>"
    if sql is not None:
        return sql
    # Any other CLI: judge by its sub-commands (aws rds failover-db-cluster, argocd app get, vault status).
    heads = [a.split("-")[0] for a in lowered]
    high = next((a for a, head in zip(lowered, heads, strict=True) if head in _HIGH_VERBS), None)
    if high:
        return H, f"{program} {high[:40]} is destructive or moves traffic", False, None
    if "restart" in heads:
        return L, f"{program} restart restarts a component", True, None
    read = next((a for a, head in zip(lowered[:3], heads, strict=False) if head in _READ_VERBS), None)
    if program and read and not any(h in ("apply", "set", "update", "create", "put") for h in heads):
        return R, f"{program} {read[:40]} only reads", True, None
    if program in _READ_VERBS:
        return R, f"{program} only reads", True, None
    return M, f"unknown command {program or part[:40]!r}: treat with care", False, None


_ACTIONS: tuple[tuple[str, Verdict], ...] = (
    ("scale_to_zero", (H, "scaling to zero takes the workload down", True, "scale back to the previous count")),
    ("scale_down", (M, "scaling down removes capacity", True, "scale back to the previous replica count")),
    ("scale_up", (L, "scaling up adds replicas", True, "scale back to the previous replica count")),
    ("rollback", (H, "a rollback returns to an older version", True, "roll forward to the current version")),
    ("failover", (H, "a failover moves the primary", False, None)),
    ("drain", (H, "draining evicts every pod from the node", True, "uncordon the node")),
    ("delete", (H, "deleting removes resources", False, None)),
    ("cordon", (M, "cordoning stops new pods landing on the node", True, "uncordon the node")),
    ("flush", (M, "flushing a cache drops every entry and cannot be undone", False, None)),
    ("purge", (M, "purging a cache drops every entry and cannot be undone", False, None)),
    ("flag", (L, "toggling a feature flag", True, "set the flag back to its previous value")),
    ("restart", (L, "a restart recreates the process from the same spec", True, None)),
)
_READ_ACTIONS = "investigate query read get describe logs show list status check inspect explain diagnose".split()


def classify_action(action: str) -> Verdict | None:
    """The verdict implied by a playbook action name alone, or None when it is not recognised."""
    name = re.sub(r"[\s-]+", "_", action.strip().lower())
    for keyword, verdict in _ACTIONS:
        if keyword in name:
            return verdict
    if any(name == k or name.startswith(k + "_") for k in _READ_ACTIONS):
        return R, f"{action[:40]} only reads", True, None
    return None


def _assess_command(command: str) -> RiskAssessment:
    judged = []
    if _SQL_READ.match(command) or _SQL_WRITE.match(command.lstrip()):
        command = " ".join(command.split())  # a multi-line SQL statement is one statement, not a chain
    for part in split_command(command):
        verdict = classify_part(part, _tokens(part))
        unquoted = re.sub(r"'[^']*'|\"[^\"]*\"", "", part)  # ">" inside quotes or SQL is no redirect
        if verdict[0] < M and not _SQL_READ.match(part) and _WRITES_FILE.search(unquoted):
            verdict = (M, f"{verdict[1]}, but writes its output into a file", False, None)
        judged.append(_judge(*verdict))
    if not judged:
        return _judge(M, f"unknown command {command[:40]!r}: treat with care", False, None)
    worst = max(judged, key=lambda a: a.level.rank)
    reversible = all(a.reversible for a in judged)
    reason = worst.reason
    if len(judged) > 1:
        reason = f"the command chains {len(judged)} parts and takes the risk of the riskiest: {reason}"
    return RiskAssessment(worst.level, reason, reversible, worst.undo if reversible else None)


def assess(action: str, command: str | None) -> RiskAssessment:
    """Assess `action` running `command`: the command decides, a known action name can only raise it."""
    by_action = classify_action(action or "")
    if not command or not command.strip():
        if by_action is None:
            return _judge(M, f"unknown action {(action or '')[:40]!r}: treat with care", False, None)
        return _judge(*by_action)
    judged = _assess_command(command)
    if by_action is not None and by_action[0] > judged.level:
        level, what, reversible, undo = by_action
        what = f"{what} (the action's own risk, higher than its command's)"
        return _judge(level, what, reversible and judged.reversible, undo)
    return judged
