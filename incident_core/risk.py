"""Deterministic risk policy for suggested actions and commands: it denies by default, and a model may
raise risk, never lower it.

A command is read without running it (incident_core/risk_shell.py): split at shell operators
outside quotes, each part judged by the program it runs (risk_programs.py, risk_platforms.py) and
by dangers that cut across programs (risk_danger.py: text run as code, secrets, system paths).
The riskiest part decides. Anything the policy does not know is high; a few things are refused
outright, whoever approves them (decoded or downloaded text run by a shell, reverse shells, fork
bombs, deleting or opening up the root filesystem).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from incident_core.risk_danger import evaluation, refusals, writes_system_path
from incident_core.risk_levels import H, L, M, R, RiskLevel, Verdict, high, raise_only
from incident_core.risk_platforms import SQL_START, sql
from incident_core.risk_programs import classify, is_known
from incident_core.risk_shell import invocation, lex, redirect_targets

__all__ = ["RiskAssessment", "RiskLevel", "assess", "classify_action", "raise_only", "split_command"]

_CONSEQUENCE = {R: "read-only, safe to run", L: "low risk", M: "medium risk, needs confirmation",
                H: "high risk, needs a commander's approval"}
REFUSED = "refused: Revenant will not run this from chat, whoever approves it"
_REDIRECTION = re.compile(r"\d*>&\d*-?|&>>?")
_SQL_CLAUSE = re.compile(r"^(from|where|group|order|having|limit|join|left|right|inner|outer|cross|full|on|and|or|"
                         r"not|union|intersect|except|values|returning|offset|fetch|window|partition|into|as|"
                         r"case|when|then|else|end|by|\)|\(|_)$")
MAX_COMMAND = 4000  # longer commands are not read at all (high): runbook commands are lines, not programs
_MAX_DEPTH = 4  # nested `sh -c "…"` / `$(…)` levels read before the rest counts as unknown


@dataclass(frozen=True)
class RiskAssessment:
    """The policy's verdict: level, the sentence a responder reads, whether/how to undo it, and refusal.

    `summary` is the policy's own description of what runs (no consequence): chat shows it as the
    step's title, so the words beside a risk badge are never a runbook's or a model's.
    """

    level: RiskLevel
    reason: str
    reversible: bool
    undo: str | None = None
    summary: str = ""
    refused: bool = False

    @property
    def title(self) -> str:
        """The summary as a title (first letter upper case)."""
        text = self.summary or self.reason
        return text[:1].upper() + text[1:]


def split_command(command: str) -> list[str]:
    """The simple commands in `command`: split at `;`, `&&`, `||`, `|`, `&` and newlines outside quotes,
    with the bodies of `$(…)` and backticks as commands of their own (redirections left out)."""
    lexed = lex(command)
    inner = [part for body in lexed.substitutions for part in split_command(body)]
    texts = [" ".join(w for w in _REDIRECTION.sub(" ", p.text).split() if w != "_") for p in lexed.parts]
    return [t for t in texts if re.search(r"\w", t)] + inner


def _judge(verdict: Verdict) -> RiskAssessment:
    consequence = REFUSED if verdict.refused else _CONSEQUENCE[verdict.level]
    what = verdict.what
    reason = f"{what}{'; ' if ':' in what else ': '}{consequence}"
    return RiskAssessment(verdict.level, reason, verdict.reversible and not verdict.refused,
                          verdict.undo if verdict.reversible else None, what, verdict.refused)


@dataclass
class _Reading:
    """Verdicts for each simple command, and for what the command as a whole does (substitution, refusals)."""

    parts: list[Verdict]
    whole: list[Verdict]

    def worst(self) -> Verdict:
        """The riskiest verdict, phrased for a chain when there are several commands."""
        verdicts = self.whole + self.parts
        worst = verdicts[0]
        for verdict in verdicts[1:]:
            worst = worst.worse(verdict)
        reversible = all(v.reversible for v in verdicts)
        what = worst.what
        if len(self.parts) > 1:
            what = f"the command chains {len(self.parts)} parts and takes the risk of the riskiest: {what}"
        return Verdict(worst.level, what, reversible, worst.undo if reversible else None, worst.refused)


def _read(command: str, depth: int = 0, *, known_only: bool = False) -> _Reading:
    """Judge every simple command in `command`, its substitutions and the dangers of the whole
    (with `known_only`, only the programs the policy knows after the first part: SQL read as shell)."""
    text = command.strip()
    if depth > _MAX_DEPTH:
        return _Reading([], [high("commands nested this deeply are not read any further")])
    if not known_only and SQL_START.match(text) and not re.match(r"^\W*\w+\s+-", text):
        return _sql_reading(text, depth)
    whole = refusals(text)
    if whole is not None:
        return _Reading([], [whole])
    lexed = lex(text)
    reading = _Reading([], [])
    if lexed.unbalanced:
        reading.whole.append(high("its quoting or substitution is unbalanced, so the policy cannot read it"))
    if lexed.substitutions:
        reading.whole.append(high("command substitution builds the command at run time"))
        for body in lexed.substitutions:
            inner = _read(body, depth + 1)
            reading.parts += inner.parts
            reading.whole += inner.whole

    def nested(inner: str) -> Verdict:
        return _read(inner, depth + 1).worst()

    for index, part in enumerate(lexed.parts):
        inv = invocation(part.text)
        if known_only and (index == 0 or (not is_known(inv.program) and (
                part.operator in ("|", "||", ";") or (part.operator == "\n" and _SQL_CLAUSE.match(inv.program))))):
            # SQL read as shell: `||` concatenates, `;` ends a statement, FROM/WHERE lines continue one. A part
            # that is itself a statement (`SELECT 1 || VACUUM FULL t` pasted into a shell) is still judged.
            if index and SQL_START.match(part.text):
                reading.parts.append(sql(part.text) or high(f"unknown statement {part.text[:40]!r}"))
            continue
        verdict = classify(inv, part.text, nested)
        if not is_known(inv.program):
            verdict = verdict.worse(sql(part.text) or verdict)  # SQL chained into a shell line
        evaluated = evaluation(inv, index, lexed)
        if evaluated is not None:
            verdict = verdict.worse(evaluated)
        reading.parts.append(_redirected(verdict, redirect_targets(part.text)))
    if not reading.parts and not reading.whole and not known_only:
        reading.whole.append(high(f"unknown command {text[:40]!r}: the policy does not know what it does"))
    return reading


def _redirected(verdict: Verdict, targets: list[str]) -> Verdict:
    """A part that writes its output into files is at least medium, and high for system files."""
    system = next((t for t in targets if writes_system_path(t)), None)
    if system:
        return verdict.worse(high(f"{verdict.what}, but overwrites {system[:60]}"))
    if targets and verdict.level < M:
        return Verdict(M, f"{verdict.what}, but writes its output into a file")
    return verdict


def _sql_reading(text: str, depth: int) -> _Reading:
    """SQL statements, raised by any shell the text also holds (`SELECT 1 && rm -rf /`, `$(…)`): it may be
    pasted into a shell as well as into a SQL client."""
    as_shell = _read(text, depth, known_only=True)
    return _Reading(_sql_statements(text), as_shell.whole + as_shell.parts)


def _sql_statements(text: str) -> list[Verdict]:
    statements = [s for s in re.split(r";(?=(?:[^']*'[^']*')*[^']*$)", " ".join(text.split())) if s.strip()]
    return [sql(s.strip()) or high(f"unknown statement {s.strip()[:40]!r}") for s in statements]


_ACTIONS: tuple[tuple[str, Verdict], ...] = (
    ("scale_to_zero", Verdict(H, "scaling to zero takes the workload down", True, "scale back to the previous count")),
    ("scale_down", Verdict(M, "scaling down removes capacity", True, "scale back to the previous replica count")),
    ("scale_up", Verdict(L, "scaling up adds replicas", True, "scale back to the previous replica count")),
    ("rollback", Verdict(H, "a rollback returns to an older version", True, "roll forward to the current version")),
    ("failover", high("a failover moves the primary")),
    ("drain", Verdict(H, "draining evicts every pod from the node", True, "uncordon the node")),
    ("delete", high("deleting removes resources")),
    ("cordon", Verdict(M, "cordoning stops new pods landing on the node", True, "uncordon the node")),
    ("flush", Verdict(M, "flushing a cache drops every entry and cannot be undone")),
    ("purge", Verdict(M, "purging a cache drops every entry and cannot be undone")),
    ("flag", Verdict(L, "toggling a feature flag", True, "set the flag back to its previous value")),
    ("restart", Verdict(L, "a restart recreates the process from the same spec", True)),
)
_READ_ACTIONS = "investigate query read get describe logs show list status check inspect explain diagnose".split()


def classify_action(action: str) -> Verdict | None:
    """The verdict implied by a playbook action name alone, or None when it is not recognised."""
    name = re.sub(r"[\s-]+", "_", action.strip().lower())
    for keyword, verdict in _ACTIONS:
        if keyword in name:
            return verdict
    if any(name == k or name.startswith(k + "_") for k in _READ_ACTIONS):
        return Verdict(R, f"{action[:40]} only reads", True)
    return None


def assess(action: str, command: str | None) -> RiskAssessment:
    """Assess `action` running `command`: the command decides, a known action name can only raise it."""
    by_action = classify_action(action or "")
    if not command or not command.strip():
        if by_action is None:
            return _judge(high(f"unknown action {(action or '')[:40]!r}: the policy does not know what it does"))
        return _judge(by_action)
    if len(command) > MAX_COMMAND:
        return _judge(high(f"a command of {len(command)} characters is too long for the policy to read"))
    judged = _read(command).worst()
    if by_action is not None and by_action.level > judged.level and not judged.refused:
        what = f"{by_action.what} (the action's own risk, higher than its command's)"
        return _judge(Verdict(by_action.level, what, by_action.reversible and judged.reversible, by_action.undo))
    return _judge(judged)
