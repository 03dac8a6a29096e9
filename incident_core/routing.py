"""Pure routing of a signal to a project by Alertmanager-style label matchers (first match wins)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any

from incident_core import richtext as rt
from incident_core.errors import ValidationError
from incident_core.signals import Signal, SignalSeverity

_MATCHER = re.compile(r"^\s*(?P<name>[A-Za-z_][A-Za-z0-9_.:/-]*)\s*(?P<op>=~|!~|!=|=)\s*(?P<value>.*?)\s*$", re.S)
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t"}


class MatcherError(ValidationError, ValueError):
    """A routing matcher or routing config could not be parsed (a ValidationError and a ValueError)."""


class MatchOp(StrEnum):
    """The four Alertmanager matcher operators."""

    EQUAL = "="
    NOT_EQUAL = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"


@dataclass(frozen=True)
class Matcher:
    """One `name<op>value` test; a missing label reads as "" (so `team=""` matches its absence)."""

    name: str
    op: MatchOp
    value: str
    pattern: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def matches(self, labels: Mapping[str, str]) -> bool:
        """True when the label set satisfies this matcher (regexes are anchored at both ends)."""
        actual = labels.get(self.name, "")
        if self.op is MatchOp.EQUAL:
            return actual == self.value
        if self.op is MatchOp.NOT_EQUAL:
            return actual != self.value
        assert self.pattern is not None
        found = self.pattern.fullmatch(actual) is not None
        return found if self.op is MatchOp.REGEX else not found

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.name}{self.op}"{escaped}"'


def _unquote(raw: str, text: str) -> str:
    if not raw.startswith('"'):
        if '"' in raw:
            raise MatcherError(f"matcher {text!r}: stray double quote in the value")
        return raw
    if len(raw) < 2 or not raw.endswith('"'):
        raise MatcherError(f"matcher {text!r}: the value's closing double quote is missing")
    out: list[str] = []
    body, i = raw[1:-1], 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            # Known escapes are decoded; any other (\d, \.) is kept verbatim for regexes.
            out.append(_ESCAPES.get(nxt, "\\" + nxt))
            i += 2
            continue
        if char == '"':
            raise MatcherError(f"matcher {text!r}: unescaped double quote inside the value")
        out.append(char)
        i += 1
    return "".join(out)


def parse_matcher(text: str) -> Matcher:
    """Parse `name=value`, `name!="v"`, `name=~"re"` or `name!~"re"`; raises MatcherError."""
    if not isinstance(text, str):
        raise MatcherError(f"a matcher must be a string like 'service=\"checkout\"', got {text!r}")
    found = _MATCHER.match(text)
    if found is None:
        raise MatcherError(
            f"matcher {text!r} is not of the form name=value, name!=value, name=~regex or name!~regex"
        )
    op = MatchOp(found["op"])
    value = _unquote(found["value"], text)
    pattern = None
    if op in (MatchOp.REGEX, MatchOp.NOT_REGEX):
        try:
            pattern = re.compile(value)
        except re.error as exc:
            raise MatcherError(f"matcher {text!r} has an invalid regular expression: {exc}") from None
    return Matcher(found["name"], op, value, pattern)


@dataclass(frozen=True)
class RoutingRule:
    """Signals whose labels satisfy every matcher go to `project`; no matchers matches everything."""

    project: str
    matchers: tuple[Matcher, ...] = ()

    @classmethod
    def parse(cls, project: str, matchers: Iterable[str]) -> RoutingRule:
        """Build a rule from matcher strings."""
        return cls(project, tuple(parse_matcher(m) for m in matchers))

    def matches(self, labels: Mapping[str, str]) -> bool:
        """True when every matcher is satisfied."""
        return all(m.matches(labels) for m in self.matchers)


def route(labels: Mapping[str, str], rules: Sequence[RoutingRule], default: str) -> str:
    """The project of the first rule matching `labels`, else `default`."""
    for rule in rules:
        if rule.matches(labels):
            return rule.project
    return default


def routing_labels(signal: Signal) -> dict[str, str]:
    """The labels routing sees: the signal's labels plus service, source, severity and kind if absent."""
    extra = {"source": signal.source, "severity": signal.severity.value, "kind": signal.kind.value}
    if signal.service:
        extra["service"] = signal.service
    return {**extra, **signal.labels}


@dataclass(frozen=True)
class ProjectPolicy:
    """Per-project settings the correlation step and the room opener read."""

    name: str
    grouping_window: timedelta = timedelta(minutes=30)
    min_severity: SignalSeverity = SignalSeverity.WARNING
    auto_channel: bool = True
    sender_groups: bool = True
    auto_resolve_after: timedelta | None = None


@dataclass(frozen=True)
class RoutingConfig:
    """An org's routing: ordered rules, the default project and every project's policy."""

    rules: tuple[RoutingRule, ...]
    default_project: str
    policies: Mapping[str, ProjectPolicy]

    def route(self, labels: Mapping[str, str]) -> str:
        """The project for these labels."""
        return route(labels, self.rules, self.default_project)

    def policy_for(self, project: str) -> ProjectPolicy:
        """The policy of `project`, or the defaults when it has none."""
        return self.policies.get(project) or ProjectPolicy(project)


def _policy(entry: Mapping[str, Any], name: str, at: str) -> ProjectPolicy:
    minutes = entry.get("grouping_window_minutes", 30)
    if isinstance(minutes, bool) or not isinstance(minutes, int | float) or not 0 < minutes <= 7 * 24 * 60:
        raise MatcherError(f"{at}.grouping_window_minutes must be a number of minutes between 1 and 10080")
    try:
        min_severity = SignalSeverity.parse(str(entry.get("min_severity", "warning")))
    except ValidationError as exc:
        raise MatcherError(f"{at}.min_severity: {exc}") from None
    flags = {}
    for flag in ("auto_channel", "sender_groups"):
        value = entry.get(flag, True)
        if not isinstance(value, bool):
            raise MatcherError(f"{at}.{flag} must be true or false")
        flags[flag] = value
    after = entry.get("auto_resolve_after_minutes")
    if after is not None and (isinstance(after, bool) or not isinstance(after, int | float) or not 0 <= after <= 10080):
        raise MatcherError(f"{at}.auto_resolve_after_minutes must be a number of minutes between 0 and 10080 "
                           "(leave it out to resolve only by hand)")
    return ProjectPolicy(name, timedelta(minutes=minutes), min_severity, flags["auto_channel"],
                         flags["sender_groups"], None if after is None else timedelta(minutes=after))


def load_routing(config: Mapping[str, Any]) -> RoutingConfig:
    """Build a RoutingConfig from the org's parsed YAML (shape in docs/signals.md); raises MatcherError."""
    if not isinstance(config, Mapping):
        raise MatcherError(rt.doc(rt.para("the routing config must be a mapping with ", rt.code("projects"), " and ",
                                          rt.code("default_project"))))
    default = config.get("default_project")
    if not isinstance(default, str) or not default:
        raise MatcherError("default_project must name a project")
    entries = config.get("projects", [])
    if not isinstance(entries, list):
        raise MatcherError("projects must be a list")
    rules: list[RoutingRule] = []
    policies: dict[str, ProjectPolicy] = {}
    for index, entry in enumerate(entries):
        at = f"projects[{index}]"
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str) or not entry["name"]:
            raise MatcherError(rt.doc(rt.para(f"{at} must be a mapping with a ", rt.code("name"))))
        name = entry["name"]
        if name in policies:
            raise MatcherError(f"{at}: project {name!r} is listed twice")
        policies[name] = _policy(entry, name, at)
        match = entry.get("match", [])
        if isinstance(match, str):
            match = [match]
        if not isinstance(match, list):
            raise MatcherError(f"{at}.match must be a list of matcher strings")
        matchers = []
        for m_index, text in enumerate(match):
            try:
                matchers.append(parse_matcher(text))
            except MatcherError as exc:
                raise MatcherError(f"{at}.match[{m_index}]: {exc}") from None
        if matchers:
            rules.append(RoutingRule(name, tuple(matchers)))
    return RoutingConfig(tuple(rules), default, policies)
