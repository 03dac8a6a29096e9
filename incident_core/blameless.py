"""Blameless-language checker: flags blame, judgement and counterfactuals, with a suggested rewording.

A postmortem describes conditions of the system and what people knew at the time, never whose
fault it was (Google SRE book, "Postmortem Culture"). The checker is a warning, never a gate.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

PRONOUNS = r"(?:he|she|they|i|we|you|someone|somebody|nobody|the (?:on-?call|engineer|developer|operator|sre|intern|" \
           r"reviewer|author|dev|admin|team))"
MENTION = r"(?:@[\w.-]+)"  # adapters hand chat text over as plain text: people as @id or @name
PERSON_VERBS = r"(?:forgot|forgets|neglected|ignored|overlooked|messed up|screwed up|skipped|missed|botched|" \
               r"didn't|did not|failed to|broke|caused|deleted|pushed|mistakenly|accidentally)"
NAME_VERBS = r"(?:forgot|forgets|neglected|ignored|overlooked|messed up|screwed up|botched|didn't bother|" \
             r"did not bother|failed to|mistakenly|accidentally)"
NOT_NAMES = frozenset("The This That These Those It Its A An Our We They He She I You Nobody Someone Somebody "
                      "Monitoring Alerting Deploy Deployment Rollout Automation Nothing Everything Everyone "
                      "If When While Then After Before Because Also But And Or So".split())


@dataclass(frozen=True)
class Finding:
    """One flagged phrase: where, why, and how to say it instead."""

    phrase: str
    category: str  # "blame", "judgement", "counterfactual" or "person"
    message: str
    suggestion: str
    start: int
    end: int
    section: str = ""
    line: int = 0


@dataclass(frozen=True)
class Rule:
    category: str
    pattern: re.Pattern[str]
    message: str
    suggest: Callable[[re.Match[str]], str]


def _person_suggestion(rest: str | None) -> str:
    what = (rest or "").strip(" .,;").removeprefix("to ").strip() or "the step"
    return f"make the step the subject and say what allowed it: “{what}: no check or reminder caught it”"


def _rest(match: re.Match[str]) -> str:
    rest = (match.groupdict().get("rest") or "").strip(" .,;")
    return rest or "the step"


def _rule(category: str, pattern: str, message: str, suggest: str | Callable[[re.Match[str]], str]) -> Rule:
    fn = suggest if callable(suggest) else (lambda _m, s=suggest: s)
    return Rule(category, re.compile(pattern, re.IGNORECASE), message, fn)


RULES: tuple[Rule, ...] = (
    _rule("person", rf"{MENTION}\s+(?:{PERSON_VERBS})(?P<rest>[^.;\n]{{0,60}})|"
          rf"\b{PRONOUNS}\s+(?:{PERSON_VERBS})(?P<rest2>[^.;\n]{{0,60}})",
          "a person is the subject of a failure; make the system or the step the subject",
          lambda m: _person_suggestion(m.group("rest") or m.group("rest2"))),
    _rule("person", r"\bforg[eo]t(?:s|ten|ting)?\b(?P<rest>[^.;\n]{0,60})",
          "“forgot” blames a memory slip; ask what would have reminded anyone",
          lambda m: f"“{_rest(m).removeprefix('to ').strip()}” did not happen; say which step or check "
                    "could have prompted it"),
    _rule("blame", r"\bhuman[- ]error\b",
          "“human error” ends the analysis where it should start",
          "name the condition that allowed the mistake: a missing check, a risky default, an unclear runbook step"),
    _rule("blame", r"\b(?:(?:the )?fault of|(?:his|her|their|my|your|our) fault|to blame|blamed?|"
          r"responsible for (?:the|this) (?:outage|incident|failure))\b",
          "assigns fault to a person or team",
          "describe the contributing conditions; the review is about the system, not who is at fault"),
    _rule("judgement", r"\b(?:careless(?:ly|ness)?|negligen(?:t|ce|tly)|sloppy|reckless(?:ly)?|lazy|"
          r"incompeten(?:t|ce)|irresponsible|stupid|dumb|clueless)\b",
          "a judgement of a person, not a fact",
          "drop the judgement; describe the action and the context that made it look reasonable at the time"),
    _rule("counterfactual", r"\b(?:should(?:n't| not)?|ought to|could|would)(?:'ve| have)\b(?P<rest>[^.;\n]{0,60})",
          "a counterfactual: it describes what did not happen instead of what did",
          lambda m: f"say what happened and when (instead of “{_rest(m)}”), and what would make the better "
                    "path the default next time"),
    _rule("counterfactual", r"\bif only\b",
          "a counterfactual wish, not a finding",
          "state the condition that was missing and turn it into an action item"),
    _rule("counterfactual", r"\bfailed to\b(?P<rest>[^.;\n]{0,60})",
          "“failed to” frames an outcome as someone's failure",
          lambda m: f"state the outcome: “{_rest(m)}” did not happen, and why the system allowed it"),
)

_NAME_SUBJECT = re.compile(rf"\b(?P<name>[A-Z][a-z]{{2,}})\s+(?:{NAME_VERBS})(?P<rest>[^.;\n]{{0,60}})")


def check(text: str, *, people: Iterable[str] = ()) -> list[Finding]:
    """Every flagged phrase in `text`, in order; `people` are names or ids known to be people."""
    found: list[Finding] = []
    taken: list[tuple[int, int]] = []

    def add(rule_category: str, message: str, suggestion: str, start: int, end: int) -> None:
        if any(start < e and s < end for s, e in taken):
            return
        taken.append((start, end))
        found.append(Finding(phrase=text[start:end].strip(), category=rule_category, message=message,
                             suggestion=suggestion, start=start, end=end))

    names = [re.escape(p.split(":")[-1]) for p in people if p and len(p.split(":")[-1]) > 1]
    if names:
        known = re.compile(rf"\b(?:{'|'.join(names)})\s+(?:{PERSON_VERBS})(?P<rest>[^.;\n]{{0,60}})", re.IGNORECASE)
        for m in known.finditer(text):
            add("person", RULES[0].message, _person_suggestion(m.group("rest")), m.start(), m.end())
    for m in _NAME_SUBJECT.finditer(text):
        if m.group("name") not in NOT_NAMES:
            add("person", RULES[0].message, _person_suggestion(m.group("rest")), m.start(), m.end())
    for rule in RULES:
        for m in rule.pattern.finditer(text):
            add(rule.category, rule.message, rule.suggest(m), m.start(), m.end())
    return sorted(found, key=lambda f: f.start)


def check_sections(sections: dict[str, str], *, people: Iterable[str] = ()) -> list[Finding]:
    """Findings over every section, each tagged with its section and 1-based line number."""
    people = list(people)
    out: list[Finding] = []
    for name, text in sections.items():
        for number, line in enumerate(str(text).splitlines(), start=1):
            for f in check(line, people=people):
                out.append(Finding(phrase=f.phrase, category=f.category, message=f.message,
                                   suggestion=f.suggestion, start=f.start, end=f.end, section=name, line=number))
    return out


def summarize(findings: list[Finding], limit: int = 10) -> list[str]:
    """Short lines for a chat surface: `section l.3: “phrase” — suggestion`."""
    lines = [f"{f.section.replace('_', ' ')} l.{f.line}: “{f.phrase[:80]}” — {f.suggestion}" for f in findings[:limit]]
    if len(findings) > limit:
        lines.append(f"… and {len(findings) - limit} more")
    return lines
