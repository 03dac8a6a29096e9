"""incident_core holds no Slack or Teams syntax: every string literal it could show a person is scanned.

The core says things as rich text (incident_core/richtext.py); platforms render it. A string literal
in the core that carries mrkdwn, Teams markdown, mention or link tokens, emoji short codes or code
fences would reach a chat surface unrendered (and unescaped), so it fails here. Docstrings, comments
and the patterns given to `re` are not scanned (they parse text; they show nothing).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "incident_core"
# The postmortem section format marks reviewer prompts as whole `_…_` lines and code as backtick spans; only
# `prompt` and `code` write them.
# The plain-text renderer (terminal, logs) shows code between backticks, as people type it.
# The risk policy's shell reader compares command text with shell syntax (backtick substitutions): it shows nothing.
ALLOWED_FUNCTIONS = {("postmortem_check.py", "prompt"), ("postmortem_check.py", "code"),
                     ("richtext_plain.py", "inline_plain"), ("risk_shell.py", "lex"), ("risk_shell.py", "_substitution")}
RE_FUNCTIONS = {"compile", "match", "fullmatch", "search", "sub", "subn", "findall", "finditer", "split"}
# Text given to rt.code / rt.cmd is shown verbatim in code, escaped by each renderer: it is data, not markup.
CALLS = {("re", f) for f in RE_FUNCTIONS} | {("rt", f) for f in ("code", "cmd", "Code", "Command")}
CODE_HELPERS = {"_usage"}  # chat_commands: its argument goes into rt.cmd
PATTERNS = {
    "Slack mention or broadcast token": re.compile(r"<[@#!]"),
    "Slack masked link": re.compile(r"<[^<>\s]+\|[^<>]*>"),
    "angle-bracket link": re.compile(r"<https?:"),
    "Teams mention tag": re.compile(r"</?at\b", re.IGNORECASE),
    "emoji short code": re.compile(r"(?<![\w:]):[a-z0-9_+-]{2,}:(?![\w])"),
    "code span or fence": re.compile(r"`"),
    "mrkdwn bold": re.compile(r"(?<![\w*\\])\*(?=[^\s*()])[^*\n]{0,200}(?<=[^\s*(])\*(?![\w*])"),
    "markdown bold": re.compile(r"\*\*"),
    "italic": re.compile(r"(?<![\w\\])_(?=[^\s_])[^_\n]{1,200}(?<=[^\s_])_(?![\w])"),
    "markdown link": re.compile(r"\]\(https?:"),
    "Block Kit or card type": re.compile(r"\b(mrkdwn|plain_text|TextBlock|AdaptiveCard|FactSet)\b"),
}


def _docstring_nodes(tree: ast.AST) -> set[int]:
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _allowed(tree: ast.AST, filename: str) -> set[int]:
    allowed: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and (filename, node.name) in ALLOWED_FUNCTIONS:
            allowed |= {id(n) for n in ast.walk(node)}
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                and (func.value.id, func.attr) in CALLS) or (isinstance(func, ast.Name) and func.id in CODE_HELPERS):
            allowed |= {id(n) for n in ast.walk(node.args[0])}
    return allowed


def findings(path: Path) -> list[str]:
    """Every string literal of one module that carries platform syntax, as `file:line: what: literal`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _docstring_nodes(tree) | _allowed(tree, path.name)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            for what, pattern in PATTERNS.items():
                if pattern.search(node.value):
                    out.append(f"{path.name}:{node.lineno}: {what}: {node.value[:80]!r}")
    return out


def test_the_scanner_finds_platform_syntax(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text('"""Docstrings may say `code` and *this*."""\n'
                      'A = "Declared *INC-1*"\nB = "ping <!channel>"\nC = "run `x`"\nD = ":warning: no"\n'
                      'E = "<https://x|y>"\nF = "**bold**"\nG = "<at>Bob</at>"\nH = "_quiet_ note"\n'
                      'I = "count(*) and a*b and slack:cmd:1 and 10:30:00 and p99_latency_ms"\n')
    found = findings(sample)
    assert sorted({f.split(":")[1] for f in found}) == ["2", "3", "4", "5", "6", "7", "8", "9"], found


@pytest.mark.parametrize("path", sorted(CORE.glob("*.py")), ids=lambda p: p.name)
def test_core_module_holds_no_platform_syntax(path: Path) -> None:
    assert findings(path) == []
