"""Verdicts for platform CLIs the policy knows in detail: kubectl, SQL, redis-cli and the cloud CLIs.

Each knows which sub-commands only read, which change something, and which reach for secrets or
permissions; a sub-command it does not recognise is high (deny by default).
"""

from __future__ import annotations

import re

from incident_core.risk_levels import H, L, M, R, Verdict, high, refuse

READ_VERBS = frozenset(
    "get describe logs log top explain status list ls show query check version history diff events inspect "
    "info stats ps cat search lint validate plan output whoami can-i api-resources api-versions cluster-info "
    "members health ping port-forward wait".split()
)
HIGH_VERBS = frozenset(
    "delete destroy terminate purge drop wipe failover switchover uninstall rollback drain stop reboot reset "
    "revoke remove rm erase format evict".split()
)
VALUE_FLAGS = frozenset("-n --namespace --context --cluster --kubeconfig -l --selector -o --output -c "
                        "--container -u --user -s --signal --region --profile --project -f --filename".split())
CREDENTIAL_WORDS = re.compile(
    r"secret|passw|credential|token|decrypt|private-key|access-key|login-password|assume-role|api-key|"
    r"print-access|print-identity|kubeconfig|\bkv\b", re.I)
_RBAC_KINDS = re.compile(r"(^|[\s,/])(cluster)?role(binding)?s?($|[\s,/.])|(^|[\s,/])(sa|serviceaccounts?)($|[\s,/])",
                         re.I)
_K8S_SECRET = re.compile(r"(^|[\s,/])secrets?($|[\s,/.])", re.I)

SQL_WRITE = re.compile(
    r"\b(insert\s+into|update\s+[\w.\"`]+\s+set|delete\s+from|drop\s+(table|database|schema|index|view|user|role)"
    r"|truncate|alter\s+(table|database|system|user|role|index|default\s+privileges)|grant\s[^;]{0,200}?\s(on|to)"
    r"|revoke\s[^;]{0,200}?\s(on|from)|create\s+(table|database|index|user|role|function|extension|trigger))\b",
    re.I,
)
SQL_READ = re.compile(r"^\W*(select|show|explain|describe|desc|with)\b", re.I)
SQL_START = re.compile(r"^\W*(select|show|explain|describe|desc|with|insert|update|delete|drop|alter|truncate|"
                       r"create|grant|revoke|copy|call|do|set|reset|vacuum|analyze|reindex|cluster|lock|begin|"
                       r"commit|rollback|refresh|comment|listen|notify|prepare|execute|merge|load)\b", re.I)
# Functions and clauses that make a SELECT act: ending sessions, changing settings, taking locks.
_SQL_ACTS = re.compile(
    r"\b(pg_terminate_backend|pg_cancel_backend|pg_reload_conf|pg_rotate_logfile|pg_switch_wal|pg_promote"
    r"|pg_drop_replication_slot|pg_create_\w+_replication_slot|pg_advisory\w*lock\w*|set_config|setval|nextval"
    r"|lo_unlink|dblink_exec|for\s+(no\s+key\s+)?update|for\s+share|into\s+(temp\w*\s+)?[\w.\"`]+\s+from)\b",
    re.I,
)
_SQL_SECRETS = re.compile(r"\b(pg_authid|pg_shadow|pg_user_mappings|pg_read_file|pg_read_binary_file|lo_import|"
                          r"lo_export|pg_ls_dir|pg_stat_file|mysql\.user|authentication_string)\b", re.I)
_SQL_ROLE = re.compile(r"\b(set\s+(session\s+)?role|reset\s+role|set\s+session\s+authorization|"
                       r"security\s+definer|alter\s+\w+\s+[\w.\"]+\s+owner\s+to)\b", re.I)
_SQL_PROGRAM = re.compile(r"\bcopy\b[^;]*\b(to|from)\s+program\b", re.I)


def positionals(tokens: list[str], value_flags: frozenset[str] = VALUE_FLAGS) -> list[str]:
    """Arguments that are not flags (skipping the values of flags such as `-n shop`)."""
    out, skip = [], False
    for token in tokens:
        if skip:
            skip = False
        elif token.startswith("-"):
            skip = token in value_flags
        else:
            out.append(token.rstrip(")"))
    return out


def flag(tokens: list[str], name: str) -> str | None:
    """The value of `--name value` or `--name=value`, if given."""
    for i, token in enumerate(tokens):
        if token.startswith(name + "="):
            return token.split("=", 1)[1]
        if token == name and i + 1 < len(tokens):
            return tokens[i + 1]
    return None


def kubectl(tokens: list[str], inner: Verdict | None) -> Verdict:
    """kubectl (and oc): reads, rollouts, scaling, nodes, secrets, RBAC and exec."""
    program = tokens[0].rsplit("/", 1)[-1]
    args = positionals(tokens[1:]) + ["", ""]
    verb, sub, target = args[0], args[1], " ".join(a for a in args[1:3] if a)
    objects = " ".join([*args[1:], flag(tokens, "-f") or "", flag(tokens, "--filename") or ""])
    if verb in ("get", "describe", "edit", "view-secret") and _K8S_SECRET.search(objects):
        return high(f"{program} {verb} secrets prints credentials")
    if verb == "config":
        if sub == "view" and any(t in ("--raw", "--flatten") for t in tokens):
            return high(f"{program} config view --raw prints cluster credentials")
        if sub in ("view", "get-contexts", "current-context", "get-clusters", "get-users"):
            return Verdict(R, f"{program} config {sub} only reads (credentials redacted)", True)
        return high(f"{program} config {sub[:40]} changes which cluster and identity later commands use")
    if verb == "create" and re.fullmatch(r"(cluster)?role(binding)?", sub):
        admin = " to cluster-admin" if "cluster-admin" in " ".join(tokens) else ""
        return high(f"{program} create {sub} grants permissions{admin} (RBAC)")
    if verb == "create" and sub == "token":
        return high(f"{program} create token mints a service-account credential")
    if verb in ("apply", "patch", "edit", "replace", "set", "label", "annotate") and _RBAC_KINDS.search(objects):
        return high(f"{program} {verb} changes RBAC objects (who may do what)")
    if verb == "auth":
        if sub in ("can-i", "whoami"):
            return Verdict(R, f"{program} auth {sub} only reads", True)
        return high(f"{program} auth {sub[:40]} changes RBAC objects (who may do what)")
    if verb in ("exec", "attach", "debug", "run", "cp", "proxy", "certificate", "plugin"):
        what = {"exec": "runs a command inside a container", "attach": "attaches to a running container",
                "debug": "starts a debugging container (with node access for nodes)", "run": "starts new pods",
                "cp": "copies files into or out of containers", "proxy": "opens the Kubernetes API on a local port",
                "certificate": "approves or denies certificates (identities)"}.get(verb, "runs a plugin")
        if inner is not None and (inner.refused or inner.level is H):
            return Verdict(H, f"{program} {verb} {what}: {inner.what}", refused=inner.refused)
        return high(f"{program} {verb} {what}")
    if verb == "rollout":
        res = " ".join(args[2:4]).strip() or "<resource>"
        return {
            "status": Verdict(R, f"{program} rollout status only reads", True),
            "history": Verdict(R, f"{program} rollout history only reads", True),
            "restart": Verdict(L, f"{program} rollout restart recreates pods from the same spec", True),
            "undo": Verdict(H, f"{program} rollout undo rolls back to an older revision", True,
                            f"kubectl rollout undo {res} --to-revision=<the revision before this rollback>"),
            "pause": Verdict(M, f"{program} rollout pause stops a rollout midway", True, f"kubectl rollout resume {res}"),
            "resume": Verdict(L, f"{program} rollout resume continues a paused rollout", True,
                              f"kubectl rollout pause {res}"),
        }.get(sub, high(f"{program} rollout {sub[:40]} is not a rollout step the policy knows"))
    if verb == "scale":
        wanted, current = flag(tokens, "--replicas"), flag(tokens, "--current-replicas")
        back = f"kubectl scale {target} --replicas={current or '<previous count>'}"
        if wanted is None or not wanted.isdigit():
            return high(f"{program} scale without a replica count")
        if int(wanted) == 0:
            return Verdict(H, f"{program} scale to 0 replicas takes the workload down", True, back)
        if current and current.isdigit() and int(wanted) < int(current):
            return Verdict(M, f"{program} scale down removes capacity", True, back)
        return Verdict(L, f"{program} scale up adds replicas", True, back)
    if verb in ("cordon", "drain"):
        what = "stops new pods landing on the node" if verb == "cordon" else "evicts every pod from the node"
        return Verdict(M if verb == "cordon" else H, f"{program} {verb} {what}", True,
                       f"kubectl uncordon {sub or '<node>'}")
    if verb == "uncordon":
        return Verdict(L, f"{program} uncordon lets pods land on the node again", True,
                       f"kubectl cordon {sub or '<node>'}")
    if verb == "delete":
        return high(f"{program} delete removes resources")
    if verb in READ_VERBS:
        return Verdict(R, f"{program} {verb} only reads", True)
    if verb in ("apply", "patch", "edit", "set", "replace", "label", "annotate", "create", "expose", "autoscale",
                "taint"):
        return Verdict(M, f"{program} {verb} changes cluster configuration")
    return high(f"{program} {verb[:40] or '(no verb)'} is not a {program} command the policy knows")


def sql(text: str) -> Verdict | None:
    """The verdict for SQL in `text` (a statement, or a client call carrying one); None when it holds no SQL."""
    if _SQL_PROGRAM.search(text):
        return refuse("COPY … PROGRAM runs a shell command on the database server")
    found = SQL_WRITE.search(text)
    if found:
        return high(f"a database write ({found.group(1).split()[0].upper()}) changes data")
    role = _SQL_ROLE.search(text)
    if role:
        return high(f"a SQL statement using {' '.join(role.group(1).split()).upper()} changes whose rights apply")
    secret = _SQL_SECRETS.search(text)
    if secret:
        return high(f"a SQL statement reading {secret.group(1).lower()} exposes passwords or server files")
    acts = _SQL_ACTS.search(text)
    if acts:
        name = acts.group(1).split("(")[0].lower()
        if name in ("pg_terminate_backend", "pg_drop_replication_slot", "pg_promote", "lo_unlink", "dblink_exec"):
            return high(f"a SQL statement calling {name} ends sessions or changes the database")
        return Verdict(M, f"a SQL statement using {' '.join(name.split())} changes server state or takes locks")
    for candidate in (text, *re.findall(r"[\"']([^\"']*)", text)):
        if SQL_READ.match(candidate):
            return Verdict(R, "a SQL query that only reads", True)
    start = SQL_START.match(text)
    return high(f"a SQL {start.group(1).upper()} statement the policy does not know") if start else None


def redis(tokens: list[str]) -> Verdict:
    """redis-cli: reads, flushes and everything else."""
    args = [a.lower() for a in positionals(tokens[1:], frozenset("-h -p -a -n -u -s --user --pass".split()))]
    verb = args[0] if args else ""
    if verb == "config" and args[1:2] == ["get"]:
        return high("redis-cli config get can print the server's password")
    if verb in ("get", "info", "ping", "keys", "scan", "ttl", "pttl", "slowlog", "dbsize", "type", "exists", "strlen",
                "llen", "hlen", "scard", "zcard", "memory", "latency", "time", "lrange", "zrange", "hkeys", "smembers"):
        return Verdict(R, f"redis-cli {verb} only reads", True)
    if verb in ("flushall", "flushdb"):
        return Verdict(M, "flushing a cache drops every entry and cannot be undone")
    if verb in ("del", "unlink", "expire"):
        return Verdict(M, f"redis-cli {verb} removes keys")
    if not verb:
        return high("an interactive redis-cli session can change anything")
    return high(f"redis-cli {verb[:40]} is not a redis command the policy knows")


def cloud(program: str, args: list[str]) -> Verdict | None:
    """aws, gcloud, az and vault: secrets and permissions first; None to fall back to sub-command verbs."""
    lowered = [a.lower() for a in args]
    joined = " ".join(lowered)
    if program == "vault" and lowered[:1] != ["status"] and lowered[:1] != ["version"]:
        if lowered[:1] in (["read"], ["kv"], ["write"], ["token"], ["login"], ["unwrap"]):
            return high(f"vault {lowered[0]} reads, writes or mints secrets")
        if lowered[:1] == ["policy"] and lowered[1:2] != ["list"]:
            return high("vault policy changes who may read which secrets")
    if any(CREDENTIAL_WORDS.search(a) for a in lowered[:4]) or "--with-decryption" in lowered:
        return high(f"{program} {' '.join(lowered[:2])[:60]} reads or mints secrets and credentials")
    if program == "aws" and lowered[:1] == ["iam"] and not re.match(r"(get|list|simulate)-", (lowered + ["", ""])[1]):
        return high(f"aws iam {(lowered + ['', ''])[1][:40]} changes who may do what (IAM)")
    if re.search(r"(add|remove|set)-iam-policy|iam-policy-binding|role assignment (create|update)|"
                 r"roleassignment|attach-\w*-policy|put-\w*-policy", joined):
        return high(f"{program} changes who may do what (IAM)")
    return None
