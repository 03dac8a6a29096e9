"""Verdicts for one simple command (no shell operators) by the program it runs.

Deny by default: a program the policy does not know, or a sub-command of a known tool it does
not recognise, is high. Platform CLIs with many sub-commands live in risk_platforms.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from incident_core.risk_danger import INTERPRETERS, SHELLS, secret_read, writes_system_path
from incident_core.risk_files import awk, dd, find, permissions, rm, sed, tee
from incident_core.risk_levels import H, L, M, R, Verdict, high
from incident_core.risk_platforms import HIGH_VERBS, READ_VERBS, cloud, flag, kubectl, positionals, redis, sql
from incident_core.risk_shell import Invocation

Judge = Callable[[str], Verdict]

READ_PROGRAMS = frozenset(
    "cat less more head tail grep egrep fgrep zgrep rg ag ls ps pgrep df du free uptime dig nslookup host ping "
    "ping6 traceroute tracepath mtr top htop atop netstat ss lsof dmesg echo printf date whoami id hostname "
    "uname vmstat iostat mpstat pidstat sar wc sort uniq cut tr paste column nl jq yq stat file which type diff "
    "cmp md5sum sha1sum sha256sum base64 base32 xxd od hexdump strings tac sleep true false test [ pwd cd nproc "
    "lscpu lsblk getent groups tree realpath readlink basename dirname seq".split()
)
KNOWN_CLIS = frozenset(
    "aws gcloud az vault helm argocd promtool amtool terraform tofu git docker podman nerdctl crictl etcdctl "
    "consul nomad patronictl istioctl linkerd flux kustomize gh glab doctl pulumi kafka-topics "
    "kafka-consumer-groups rabbitmqctl nodetool pg_ctl pg_isready ceph velero eksctl minikube kind gsutil logcli "
    "mc s3cmd rclone".split()
)
FLAG_CLIS = frozenset("ldcli featureflag unleash flagsmith flipt configcat".split())
SQL_CLIENTS = frozenset("psql mysql mariadb sqlite3 clickhouse-client cqlsh sqlcmd mongosh mongo".split())
_FIREWALLS = frozenset("iptables ip6tables iptables-legacy iptables-nft ip6tables-legacy ip6tables-nft ebtables "
                       "arptables iptables-restore ip6tables-restore nft ufw firewall-cmd pfctl".split())
_IPTABLES_LISTING = frozenset("-L --list -S --list-rules -n --numeric -v --verbose -x --exact --line-numbers -t "
                              "--table -w --wait".split())
_PERMISSIONS = frozenset("chmod chown chgrp setfacl chattr chcon setfattr".split())
_USERS = frozenset("useradd usermod userdel passwd chpasswd gpasswd groupadd groupdel groupmod visudo adduser "
                   "deluser chsh chage newgrp su".split())
_DISKS = frozenset("shred mkfs wipefs fdisk parted sfdisk mkswap".split())
_WRITE_HEADS = frozenset("apply set update create put patch write import modify attach detach enable disable "
                         "start run exec push upload copy cp mv sync send".split())
_RISKY_VARIABLES = frozenset("PATH LD_PRELOAD LD_LIBRARY_PATH LD_AUDIT HISTFILE HISTSIZE HISTFILESIZE PROMPT_COMMAND "
                             "BASH_ENV ENV IFS PS4 PYTHONPATH PYTHONSTARTUP NODE_OPTIONS PERL5OPT GIT_SSH_COMMAND "
                             "KUBECONFIG".split())
_KNOWN = (READ_PROGRAMS | KNOWN_CLIS | FLAG_CLIS | SQL_CLIENTS | _FIREWALLS | _PERMISSIONS | _USERS | _DISKS
          | SHELLS | INTERPRETERS)
_SSH_VALUES = frozenset("-p -i -l -o -F -J -L -R -D -E -b -c -m -O -Q -S -W -w -e".split())


def classify(inv: Invocation, part: str, judge: Judge) -> Verdict:
    """The verdict for one simple command; `judge` assesses commands nested in it (`sh -c`, `find -exec`)."""
    verdict = _program(inv, part, judge)
    risky = sorted({a.split("=", 1)[0] for a in inv.assignments} & _RISKY_VARIABLES)
    if risky:
        verdict = verdict.worse(high(f"setting {', '.join(risky)} changes how later commands run"))
    secret = secret_read(inv)
    return verdict.worse(secret) if secret else verdict


def _program(inv: Invocation, part: str, judge: Judge) -> Verdict:
    program, tokens, args = inv.program, inv.tokens, inv.args
    if not program:
        if {"sudo", "doas"} & set(inv.wrappers):
            return high("it opens a root shell")
        if "env" in inv.wrappers:
            return high("env prints environment variables, secrets included")
        return Verdict(R, "it only sets shell variables" if inv.assignments else "xargs without a command only echoes",
                       True)
    if any(t == "--force" or t.startswith(("--force=", "--force-")) for t in tokens):
        return high(f"{program} --force skips the usual safety checks")
    handler = _HANDLERS.get(program)
    if handler is not None:
        return handler(inv, part, judge)
    if program.startswith("mkfs.") or program in _DISKS:
        return high(f"{program} destroys data on disk")
    if program in _FIREWALLS:
        return _firewall(program, args)
    if program in _PERMISSIONS:
        return permissions(program, args)
    if program in _USERS:
        admin = any(g in " ".join(args) for g in ("sudo", "wheel", "root", "docker", "admin"))
        return high(f"{program} changes users or groups" + (", granting administrator rights" if admin else ""))
    if program in SQL_CLIENTS:
        return _sql_client(program, args, part)
    if program in FLAG_CLIS:
        lowered = [a.lower() for a in args]
        if any(a in ("toggle", "enable", "disable", "on", "off", "set", "update") for a in lowered):
            return Verdict(L, "toggling a feature flag", True, "set the flag back to its previous value")
    if program in SHELLS:
        inner = flag(tokens, "-c")
        if inner is not None:
            nested = judge(inner)
            return Verdict(H, f"{program} -c runs its argument through a shell ({nested.what})", refused=nested.refused)
        return high(f"{program} runs a shell script or an interactive shell")
    if program in INTERPRETERS:
        inline = any(t in ("-c", "-e", "-E", "-r", "--eval", "-Command", "-command") for t in args)
        return high(f"{program} {'runs inline code' if inline else 'runs a program'} the policy cannot read")
    if program in READ_PROGRAMS:
        return Verdict(R, f"{program} only reads", True)
    return _by_subcommand(program, args)


def _by_subcommand(program: str, args: list[str]) -> Verdict:
    lowered = [a.lower() for a in positionals(args)]
    if program in KNOWN_CLIS:
        credentials = cloud(program, lowered)
        if credentials is not None:
            return credentials
    heads = [a.split("-")[0] for a in lowered]
    destructive = next((a for a, head in zip(lowered, heads, strict=True) if head in HIGH_VERBS), None)
    if destructive:
        return high(f"{program} {destructive[:40]} is destructive or moves traffic")
    if program not in KNOWN_CLIS and program not in FLAG_CLIS:
        return high(f"unknown command {program!r}: the policy does not know what it does")
    if "restart" in heads[:3]:
        return Verdict(L, f"{program} restart restarts a component", True)
    if any("flush" in a for a in lowered) or ("cache" in lowered and ("purge" in lowered or "clear" in lowered)):
        return Verdict(M, "flushing a cache drops every entry and cannot be undone")
    read = next((a for a, head in zip(lowered[:3], heads[:3], strict=False) if head in READ_VERBS), None)
    if read and not set(heads) & _WRITE_HEADS:
        return Verdict(R, f"{program} {read[:40]} only reads", True)
    return high(f"{program} {' '.join(lowered[:2])[:50] or '(no sub-command)'} is not a {program} command the "
                "policy knows")


def _firewall(program: str, args: list[str]) -> Verdict:
    lowered = [a.lower() for a in args]
    if program == "nft":
        if lowered[:1] == ["list"]:
            return Verdict(R, "nft list only reads", True)
        return high("nft flush drops every firewall rule" if "flush" in lowered else "nft changes firewall rules")
    if program == "ufw":
        if lowered[:1] == ["status"]:
            return Verdict(R, "ufw status only reads", True)
        return high(f"ufw {lowered[0] if lowered else ''} changes the firewall".replace("  ", " "))
    if program == "firewall-cmd":
        if lowered and all(a.startswith(("--list", "--get", "--query", "--state", "--zone")) for a in lowered):
            return Verdict(R, "firewall-cmd only reads its rules", True)
        return high("firewall-cmd changes firewall rules")
    if program == "pfctl" and lowered and all(a.startswith("-s") for a in lowered):
        return Verdict(R, "pfctl -s only reads", True)
    flags = [a for a in args if a.startswith("-")]
    lists = any(f in ("-L", "--list", "-S", "--list-rules") or (not f.startswith("--") and set(f[1:]) & {"L", "S"})
                for f in flags)
    if lists and all(f in _IPTABLES_LISTING or (not f.startswith("--") and set(f[1:]) <= set("LSnvxw"))
                     for f in flags):
        return Verdict(R, f"{program} -L only lists firewall rules", True)
    if any(f in ("-F", "--flush", "-X", "--delete-chain") for f in flags):
        return high(f"{program} -F flushes every firewall rule")
    return high(f"{program} changes firewall rules")


def _kill(inv: Invocation, part: str, judge: Judge) -> Verdict:
    program, tokens = inv.program, inv.tokens
    if program == "kill" and any(t in ("1", "-1") for t in inv.args if not t.startswith(("-9", "-s"))):
        return high("kill 1 or kill -1 stops init or every process")
    if any(t in ("-9", "-KILL", "-SIGKILL") for t in tokens) or flag(tokens, "-s") in ("KILL", "9"):
        return high(f"{program} -9 kills processes without letting them clean up")
    return Verdict(M, f"{program} stops processes")


def _service(inv: Invocation, part: str, judge: Judge) -> Verdict:
    program, args = inv.program, [a.lower() for a in positionals(inv.args)]
    verb, unit = (args + ["", ""])[:2] if program == "systemctl" else (args + ["", ""])[1::-1][:2]
    unit = unit or "<unit>"
    known = {
        "restart": Verdict(L, f"{program} restart restarts the service", True),
        "reload": Verdict(L, f"{program} reload reloads the service's configuration", True),
        "try-restart": Verdict(L, f"{program} try-restart restarts the service if it runs", True),
        "start": Verdict(L, f"{program} start starts the service", True, f"systemctl stop {unit}"),
        "stop": Verdict(H, f"{program} stop takes the service down", True, f"systemctl start {unit}"),
    }
    if verb in known:
        return known[verb]
    if verb in READ_VERBS or verb in ("is-active", "is-enabled", "is-failed", "list-units", "list-timers",
                                      "list-unit-files"):
        return Verdict(R, f"{program} {verb} only reads", True)
    return high(f"{program} {verb[:40] or '(no verb)'} is not a service command the policy knows")


def _containers(inv: Invocation, part: str, judge: Judge) -> Verdict:
    program, args = inv.program, [a.lower() for a in positionals(inv.args)]
    verb = args[0] if args else ""
    if verb == "restart":
        return Verdict(L, f"{program} restart restarts the container", True)
    if verb in ("stop", "kill", "rm", "rmi", "prune", "system", "volume", "network"):
        return high(f"{program} {verb} stops or removes containers")
    if verb in ("exec", "run", "attach", "cp", "build", "push", "login", "commit", "load", "import", "create"):
        return high(f"{program} {verb} runs or changes containers and images")
    if verb in READ_VERBS or verb in ("images", "port", "stats", "inspect", "top", "events"):
        return Verdict(R, f"{program} {verb} only reads", True)
    return high(f"{program} {verb[:40] or '(no verb)'} is not a {program} command the policy knows")


def _http(inv: Invocation, part: str, judge: Judge) -> Verdict:
    program, tokens = inv.program, inv.tokens
    method = (flag(tokens, "-X") or flag(tokens, "--request") or "GET").upper()
    sends = any(t.startswith(("-d", "--data", "-F", "--form", "-T", "--upload", "--post", "--json")) for t in tokens)
    if method == "DELETE":
        return high(f"{program} -X DELETE deletes a remote resource")
    if method not in ("GET", "HEAD") or sends:
        return Verdict(M, f"{program} sends a write request to an HTTP endpoint")
    output = flag(tokens, "-o") or flag(tokens, "--output") or flag(tokens, "-O") or flag(tokens, "--output-document")
    to_stdout = output == "-" or any(re.fullmatch(r"-\w*O-", t) for t in tokens) or "--spider" in tokens
    writes = (output not in (None, "-")) or (program == "wget" and not to_stdout) or "--remote-name" in tokens
    if writes and output and writes_system_path(output):
        return high(f"{program} overwrites a system file with a download")
    if writes:
        return Verdict(M, f"{program} downloads a file to disk")
    return Verdict(R, f"{program} only fetches a URL", True)


def _helm(inv: Invocation, part: str, judge: Judge) -> Verdict:
    args = positionals(inv.args)
    if args[:1] == ["rollback"]:
        release = args[1] if len(args) > 1 else "<release>"
        return Verdict(H, "helm rollback rolls a release back", True, f"helm rollback {release} <the revision before>")
    return _by_subcommand("helm", inv.args)


def _pg_ctl(inv: Invocation, part: str, judge: Judge) -> Verdict:
    if "promote" in inv.args:
        return high("pg_ctl promote makes a replica the primary (a failover)")
    return _by_subcommand("pg_ctl", inv.args)


def _ssh(inv: Invocation, part: str, judge: Judge) -> Verdict:
    remote = positionals(inv.args, _SSH_VALUES)[1:]
    nested = judge(" ".join(remote)) if remote else None
    what = f"ssh runs commands on another machine ({nested.what})" if nested else "ssh opens a shell on another machine"
    return Verdict(H, what, refused=bool(nested and nested.refused))


def _variables(inv: Invocation, part: str, judge: Judge) -> Verdict:
    names = {a.split("=", 1)[0] for a in inv.args if not a.startswith("-")}
    risky = sorted(names & _RISKY_VARIABLES)
    if risky:
        return high(f"{inv.program} {', '.join(risky)} changes how later commands run (or hides them)")
    return Verdict(R, f"{inv.program} only sets shell variables", True)


def _fixed(verdict: Verdict) -> Callable[[Invocation, str, Judge], Verdict]:
    return lambda inv, part, judge: verdict


def _journalctl(inv: Invocation, part: str, judge: Judge) -> Verdict:
    if any(a.startswith(("--vacuum", "--rotate", "--flush", "--relinquish")) for a in inv.args):
        return high("journalctl --vacuum/--rotate deletes or rotates logs (the audit trail)")
    return Verdict(R, "journalctl only reads", True)


_HANDLERS: dict[str, Callable[[Invocation, str, Judge], Verdict]] = {
    "kubectl": lambda inv, part, judge: kubectl(inv.tokens, _after_dashes(inv.tokens, judge)),
    "oc": lambda inv, part, judge: kubectl(inv.tokens, _after_dashes(inv.tokens, judge)),
    "redis-cli": lambda inv, part, judge: redis(inv.tokens),
    "rm": rm, "rmdir": _fixed(high("rmdir deletes directories")), "find": find, "dd": dd,
    "awk": awk, "gawk": awk, "mawk": awk, "nawk": awk, "sed": sed, "tee": tee,
    "kill": _kill, "pkill": _kill, "killall": _kill, "systemctl": _service, "service": _service,
    "docker": _containers, "podman": _containers, "nerdctl": _containers,
    "curl": _http, "wget": _http, "http": _http, "helm": _helm, "pg_ctl": _pg_ctl, "ssh": _ssh,
    "export": _variables, "unset": _variables, "journalctl": _journalctl,
    "eval": _fixed(high("eval runs text as a shell command")),
    "source": _fixed(high("source runs a script in the current shell")),
    ".": _fixed(high(". runs a script in the current shell")),
    "history": _fixed(high("history prints or erases the shell history (secrets, the audit trail)")),
    "crontab": lambda inv, part, judge: Verdict(R, "crontab -l only reads", True) if inv.args == ["-l"]
    else high("crontab changes scheduled jobs"),
    "mkdir": _fixed(Verdict(L, "mkdir creates directories", True)),
    "touch": _fixed(Verdict(L, "touch creates files or updates their times", True)),
    "shutdown": _fixed(high("shutdown takes the machine down")), "reboot": _fixed(high("reboot takes the machine down")),
    "halt": _fixed(high("halt takes the machine down")), "poweroff": _fixed(high("poweroff takes the machine down")),
    "nc": _fixed(high("nc opens raw network connections")), "ncat": _fixed(high("ncat opens raw network connections")),
    "netcat": _fixed(high("netcat opens raw network connections")),
    "socat": _fixed(high("socat relays raw network connections")),
    "telnet": _fixed(high("telnet opens raw network connections")),
}


def is_known(program: str) -> bool:
    """True when the policy judges `program` by what it does (not as an unknown command)."""
    return program in _HANDLERS or program in _KNOWN or program.startswith("mkfs.")


def _after_dashes(tokens: list[str], judge: Judge) -> Verdict | None:
    """The verdict for the command after `--` (kubectl exec pod -- CMD), if there is one."""
    if "--" not in tokens:
        return None
    rest = tokens[tokens.index("--") + 1:]
    return judge(" ".join(rest)) if rest else None


def _sql_client(program: str, args: list[str], part: str) -> Verdict:
    verdict = sql(part)
    if verdict is not None:
        return verdict
    if not any(a.startswith(("-c", "--command", "-e", "--execute", "-f", "--file", "-q", "--query", "--eval"))
               for a in args):
        return high(f"an interactive {program} session can change anything")
    return high(f"{program} runs statements the policy does not know")
