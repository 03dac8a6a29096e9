"""Dangers that cut across programs: shell evaluation, secrets, system paths and outright refusals."""

from __future__ import annotations

import re

from incident_core.risk_levels import Verdict, high, refuse
from incident_core.risk_shell import Invocation, Lexed

SHELLS = frozenset("sh bash zsh dash ksh mksh ash fish csh tcsh busybox".split())
INTERPRETERS = frozenset("python python2 python3 perl ruby node nodejs php lua luajit rscript pwsh powershell "
                         "osascript deno bun tclsh irb jshell groovy".split())
EVALUATORS = frozenset({"eval", "source", "."}) | SHELLS | INTERPRETERS
_DECODES = re.compile(r"\bbase(64|32)\b[^|;&]*\s(-\w*d\w*|--decode)\b|\bxxd\b[^|;&]*\s-r|\bopenssl\b[^|;&]*\s-d\b|"
                      r"\buudecode\b|\bgunzip\b|\bzcat\b|\bgzip\s+-\w*d|\brev\b|\\x[0-9a-f]{2}", re.I)
_DOWNLOADS = re.compile(r"\b(curl|wget|fetch|aria2c|nc|ncat|netcat|socat|httpie|http|iwr|invoke-webrequest)\b", re.I)
_REVERSE_SHELL = re.compile(r"/dev/(tcp|udp)/|\b(nc|ncat|netcat)\b[^|;&]*\s-\w*[ec]\b|\bsocat\b[^|;&]*\b(exec|system):|"
                            r"\bbash\s+-i\b[^|;&]*[<>]&", re.I)
_FORK_BOMB = re.compile(r"(?<![\w:])(\w{1,40}|:)\s*\(\)\s*\{[^}]{0,200}?\1\s*\|\s*\1\s*&")
SYSTEM_DIRS = re.compile(r"^/+(\*|\.)?$|^/+(etc|usr|bin|sbin|boot|lib|lib32|lib64|var|home|root|opt|srv|dev|proc|"
                         r"sys|run)(/+\*?)?$")
_SYSTEM_PREFIX = re.compile(r"^/+(etc|usr|bin|sbin|boot|lib|lib64|var/lib|root|proc|sys|dev)(/|$)")
SECRET_PATH = re.compile(
    r"(^|/)(shadow|gshadow|sudoers|master\.passwd|security/opasswd)(\.d)?(/|$)|(^|/)\.ssh(/|$)|"
    r"id_(rsa|dsa|ecdsa|ed25519)|\.(pem|key|p12|pfx|jks|keystore|kdbx|gpg|asc|age)$|(^|/)\.kube/config$|"
    r"(^|/)\.aws/(credentials|config)$|(^|/)\.docker/config\.json$|(^|/)\.(netrc|pgpass|git-credentials|npmrc|"
    r"pypirc|vault-token|my\.cnf)$|/proc/[^/\s]+/environ|(^|/)(var/)?run/secrets(/|$)|(^|/)\.env(\.\w+)?$|"
    r"/(secrets?|credentials?|tokens?|passwords?|private)(/|\.|$)", re.I)
SECRET_DUMPS = frozenset({"printenv", "declare", "compgen"})


def refusals(command: str) -> Verdict | None:
    """Whole-command patterns the policy will not run: reverse shells and fork bombs."""
    if _REVERSE_SHELL.search(command):
        return refuse("it opens a shell or a raw connection to the network (a reverse shell)")
    if _FORK_BOMB.search(command):
        return refuse("it is a fork bomb: it starts processes until the machine stops")
    return None


def evaluation(inv: Invocation, index: int, lexed: Lexed) -> Verdict | None:
    """Text run as code: piped into a shell or interpreter, or evaluated from a substitution."""
    if inv.program not in EVALUATORS:
        return None
    upstream = []
    for part in reversed(lexed.parts[:index + 1]):
        upstream.append(part.text)
        if part.operator not in ("|", "|&"):
            break
    fed = " ".join(upstream[1:])
    feeding = " ".join([fed, *lexed.substitutions])
    piped = bool(fed)
    if not piped and not (lexed.substitutions and inv.program in ("eval", "source", ".", *SHELLS)):
        return None
    if _DECODES.search(feeding):
        return refuse(f"decoded text is run by {inv.program} (hidden commands)")
    if _DOWNLOADS.search(feeding):
        return refuse(f"downloaded text is run by {inv.program} (code nobody reviewed)")
    if piped:
        return high(f"text piped into {inv.program} is run as code")
    return high(f"{inv.program} runs the output of a substitution as code")


def secret_read(inv: Invocation) -> Verdict | None:
    """Commands that print or copy secrets: sensitive files, the environment, credential stores."""
    if inv.program in SECRET_DUMPS or (inv.program == "env" and not inv.args) or (
            inv.program in ("export", "set", "declare") and inv.args[:1] in ([], ["-p"])):
        return high(f"{inv.program} prints environment variables, secrets included")
    found = next((a for a in inv.args if SECRET_PATH.search(a.split("=", 1)[-1].lstrip("@<"))), None)
    if found:
        return high(f"{inv.program} touches {found[:60]}, which holds secrets or keys")
    return None


def writes_system_path(path: str) -> bool:
    """True for paths under /etc, /usr, /boot, /var/lib and the like (or the root itself)."""
    return bool(_SYSTEM_PREFIX.match(path) or SYSTEM_DIRS.match(path))
