"""A small, quote-aware reading of a shell command for the risk policy.

It finds the parts between shell operators (with the operator before each), the bodies of
command and process substitutions, the files a part redirects its output into, and the program
a part runs once wrappers such as `sudo -u app` or `timeout 5s` are set aside. It never runs or
expands anything; when the text is not valid shell it reads what it can.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

_OPERATORS = ("&&", "||", "|&", ";;")
_WRAPPERS = frozenset("sudo doas env nohup nice ionice time watch xargs timeout exec command builtin stdbuf "
                      "chronic unbuffer".split())
_WRAPPER_VALUES = {  # wrapper flags that take a value: `sudo -u app kubectl …` runs kubectl, not app
    "sudo": {"-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U", "-T", "--user", "--group"},
    "doas": {"-u", "-C"}, "nice": {"-n"}, "ionice": {"-c", "-n", "-p"}, "watch": {"-n", "--interval"},
    "xargs": {"-n", "-P", "-I", "-L", "-d", "-a", "-E", "-s"}, "env": {"-u", "--unset", "-C", "--chdir"},
    "timeout": {"-s", "-k", "--signal", "--kill-after"}, "stdbuf": {"-i", "-o", "-e"},
}
_DURATION = re.compile(r"^\d+(\.\d+)?[smhd]?$")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_QUOTED = re.compile(r"'[^']*'|\"(?:[^\"\\]|\\.)*\"")
# `> file`, `>> file`, `2> file`, `&> file`, `>| file`; not `2>&1` or `>&2` (those copy descriptors).
_REDIRECT = re.compile(r"(?:^|[^<>&\d])(?:\d|&)?>>?\|?\s*([^\s<>&;|]+)")
_HARMLESS_TARGETS = frozenset({"/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty"})


@dataclass(frozen=True)
class Part:
    """One simple command and the shell operator before it ("" for the first)."""

    operator: str
    text: str


@dataclass(frozen=True)
class Lexed:
    """The parts of a command, the bodies of its substitutions, and whether its quoting was unbalanced."""

    parts: list[Part] = field(default_factory=list)
    substitutions: list[str] = field(default_factory=list)
    unbalanced: bool = False


def lex(command: str) -> Lexed:
    """Split `command` at operators outside quotes and lift out `$(…)`, backticks, `<(…)` and `>(…)`."""
    parts: list[Part] = []
    subs: list[str] = []
    buf: list[str] = []
    op, quote, unbalanced, i, n = "", "", False, 0, len(command)

    def flush(next_op: str) -> None:
        nonlocal op
        text = "".join(buf).strip()
        if text:
            parts.append(Part(op, text))
        buf.clear()
        op = next_op

    while i < n:
        c, two = command[i], command[i:i + 2]
        if quote == "'":
            buf.append(c)
            quote = "" if c == "'" else quote
            i += 1
            continue
        if c == "\\":
            buf.append(command[i:i + 2])
            i += 2
            continue
        if c == "`" or two == "$(" or (not quote and two in ("<(", ">(")):
            start = i + (1 if c == "`" else 2)
            body, end = _substitution(command, start, "`" if c == "`" else ")")
            unbalanced = unbalanced or end < 0
            subs.append(body)
            buf.append(" _ ")  # the substituted value is unknown until run time
            i = n if end < 0 else end + 1
            continue
        if quote:
            buf.append(c)
            quote = "" if c == '"' else quote
            i += 1
            continue
        if c in "'\"":
            quote = c
            buf.append(c)
            i += 1
        elif c in "<>" or (c == "&" and command[i + 1:i + 2] == ">"):
            j = i + 1
            while j < n and command[j] in "<>&|":
                j += 1
            buf.append(command[i:j])
            i = j
        elif two in _OPERATORS:
            flush(two)
            i += 2
        elif c in ";|&\n":
            flush(c)
            i += 1
        else:
            buf.append(c)
            i += 1
    flush("")
    return Lexed(parts, subs, unbalanced or bool(quote))


def _substitution(command: str, start: int, close: str) -> tuple[str, int]:
    """The body of a substitution starting at `start` and the index of its closing character (-1: none)."""
    depth, quote, j = 1, "", start
    while j < len(command):
        c = command[j]
        if c == "\\" and quote != "'":
            j += 2
            continue
        if close == "`":
            if c == "`":
                return command[start:j], j
        elif quote:
            quote = "" if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return command[start:j], j
        j += 1
    return command[start:], -1


@dataclass(frozen=True)
class Invocation:
    """What a part runs: its program (lower case, no path), arguments, wrappers and variable assignments."""

    program: str
    tokens: list[str]
    wrappers: tuple[str, ...] = ()
    assignments: tuple[str, ...] = ()

    @property
    def args(self) -> list[str]:
        """Everything after the program."""
        return self.tokens[1:]


def invocation(part: str) -> Invocation:
    """The program a part runs, past `sudo`, `env VAR=x`, `timeout 5s`, `xargs -n1` and the like."""
    try:
        tokens = shlex.split(part, comments=False)
    except ValueError:
        tokens = part.split()
    wrappers: list[str] = []
    assignments: list[str] = []
    while tokens:
        head = tokens[0].lstrip("\\").rsplit("/", 1)[-1]
        if _ASSIGNMENT.match(tokens[0]):
            assignments.append(tokens.pop(0))
            continue
        if head not in _WRAPPERS:
            break
        wrappers.append(head)
        tokens = tokens[1:]
        takes_value = _WRAPPER_VALUES.get(head, set())
        while tokens and (tokens[0].startswith("-") or _DURATION.match(tokens[0]) or _ASSIGNMENT.match(tokens[0])):
            flag = tokens.pop(0)
            if flag in takes_value and tokens:
                tokens.pop(0)
            elif _ASSIGNMENT.match(flag):
                assignments.append(flag)
    program = tokens[0].lstrip("\\").rsplit("/", 1)[-1].lower()[:40] if tokens else ""
    return Invocation(program, tokens, tuple(wrappers), tuple(assignments))


def unquoted(text: str) -> str:
    """`text` without its quoted strings (a `>` inside quotes or SQL is no redirection)."""
    return _QUOTED.sub("''", text)


def redirect_targets(part: str) -> list[str]:
    """Files this part writes its output into (not /dev/null, not descriptor copies like 2>&1)."""
    return [t for t in _REDIRECT.findall(unquoted(part)) if t not in _HARMLESS_TARGETS]
