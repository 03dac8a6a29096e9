"""Commands from fenced code blocks and inline code: shell lines without prompts, SQL statements, queries."""

from __future__ import annotations

import re
from dataclasses import dataclass

SHELL_LANGUAGES = frozenset(
    {"sh", "bash", "shell", "zsh", "fish", "console", "shell-session", "shellsession", "terminal",
     "kubectl", "promtool", "etcdctl", "amtool", "helm", "powershell", "ps1", "cmd"}
)
STATEMENT_LANGUAGES = frozenset({"sql", "psql", "postgresql", "postgres", "mysql", "cql"})
QUERY_LANGUAGES = frozenset({"promql", "logql", "redis", "redis-cli", "traceql", "cypher"})
KNOWN_BINARIES = frozenset(
    {"kubectl", "helm", "etcdctl", "promtool", "amtool", "systemctl", "journalctl", "curl", "psql",
     "redis-cli", "docker", "crictl", "dig", "nslookup", "openssl", "df", "du", "ss", "netstat", "iostat",
     "aws", "gcloud", "az", "git", "kafka-consumer-groups", "kafka-consumer-groups.sh", "kafka-topics",
     "kafka-topics.sh", "pg_dump", "pg_ctl", "mysql", "mysqladmin", "sudo", "lsof", "ip", "ping", "dmesg",
     "certbot", "cmctl", "vault", "terraform", "argocd", "flux", "chronyc", "timedatectl", "ethtool",
     "mdadm", "conntrack", "sysctl", "ulimit", "find", "rm", "ls", "cat", "tail", "grep", "nc", "jq"}
)
_PROMPT = re.compile(r"^\s*(?:\$|%|PS[^>]*>|[\w.@-]+[$#])\s+")
_FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})[ \t]*([^`\s]*)[^\n]*$")
_INLINE_CODE = re.compile(r"(`+)([^`]+?)\1")


@dataclass(frozen=True)
class Command:
    """One runnable command or query and the language of the block it came from."""

    language: str
    command: str

    def to_json(self) -> dict[str, str]:
        """A plain dict {language, command}."""
        return {"language": self.language, "command": self.command}


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """Every fenced code block in text as (language, body); the language is lower case or ''."""
    blocks: list[tuple[str, str]] = []
    fence: str | None = None
    language = ""
    body: list[str] = []
    for line in text.split("\n"):
        match = _FENCE_OPEN.match(line)
        if fence is None and match:
            fence, language, body = match.group(1), match.group(2).lower().strip("{}."), []
        elif fence is not None and line.strip().startswith(fence[0] * len(fence)) and not line.strip(fence[0]).strip():
            blocks.append((language, "\n".join(body)))
            fence = None
        elif fence is not None:
            body.append(line)
    return blocks


def extract_commands(text: str) -> list[Command]:
    """Commands from the fenced blocks of text, in order; prompts stripped, comments and output skipped."""
    commands: list[Command] = []
    for language, body in fenced_blocks(text):
        lang = language or _guess_language(body)
        if lang in SHELL_LANGUAGES:
            commands.extend(Command(lang, c) for c in _shell_commands(body, lang))
        elif lang in STATEMENT_LANGUAGES:
            commands.extend(Command(lang, c) for c in _statements(body))
        elif lang in QUERY_LANGUAGES:
            query = "\n".join(line for line in body.strip().split("\n") if not line.lstrip().startswith("#"))
            if query.strip():
                commands.append(Command(lang, query.strip()))
    return commands


def inline_commands(lines: list[str]) -> list[Command]:
    """Inline code spans that start with a well-known CLI binary and have arguments."""
    commands: list[Command] = []
    for match in _INLINE_CODE.finditer("\n".join(lines)):
        code = _PROMPT.sub("", match.group(2).strip())
        words = code.split()
        if len(words) >= 2 and words[0] in KNOWN_BINARIES:
            commands.append(Command("shell", code))
    return commands


def _guess_language(body: str) -> str:
    lines = [line for line in body.split("\n") if line.strip()]
    if any(line.lstrip().startswith("$ ") for line in lines):
        return "console"
    first = next((line.split()[0] for line in lines if not line.lstrip().startswith("#")), "")
    return "shell" if first in KNOWN_BINARIES else ""


def _shell_commands(body: str, language: str) -> list[str]:
    lines = body.split("\n")
    prompted = any(_PROMPT.match(line) for line in lines) or language == "console"
    commands: list[str] = []
    pending = ""
    for raw in lines:
        line = raw.rstrip()
        if pending:
            pending += " " + line.strip()
        else:
            if prompted:
                if not _PROMPT.match(line):
                    continue
                line = _PROMPT.sub("", line, count=1)
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            pending = stripped
        if pending.endswith("\\"):
            pending = pending[:-1].rstrip()
            continue
        commands.append(pending)
        pending = ""
    if pending:
        commands.append(pending)
    return commands


def _statements(body: str) -> list[str]:
    lines = [line for line in body.split("\n") if not line.strip().startswith("--")]
    text = "\n".join(lines)
    statements = [s.strip() for s in text.split(";")]
    return [s + ";" for s in statements if s]
