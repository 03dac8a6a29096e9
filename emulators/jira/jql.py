"""A JQL subset: AND/OR/NOT, parentheses, = != ~ !~ IN NOT IN IS [NOT] EMPTY, ORDER BY."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<op>!=|!~|>=|<=|=|~|>|<|\(|\)|,)
      | (?P<word>[A-Za-z0-9_.\-\[\]*@/:]+)
    )""",
    re.VERBOSE,
)
KEYWORDS = {"AND", "OR", "NOT", "IN", "IS", "EMPTY", "NULL", "ORDER", "BY", "ASC", "DESC"}


class JqlError(ValueError):
    """A query Jira would reject with HTTP 400."""


@dataclass(frozen=True)
class Tok:
    """A lexical token; `quoted` distinguishes "AND" from AND."""

    text: str
    quoted: bool = False

    @property
    def upper(self) -> str:
        """Keyword form (only for unquoted tokens)."""
        return "" if self.quoted else self.text.upper()


def tokenize(jql: str) -> list[Tok]:
    """Split JQL into tokens."""
    out: list[Tok] = []
    pos = 0
    while pos < len(jql):
        if jql[pos:].strip() == "":
            break
        m = _TOKEN.match(jql, pos)
        if m is None or m.end() == pos:
            raise JqlError(
                f"Error in the JQL Query: The character '{jql[pos:].strip()[0]}' is a reserved JQL character."
            )
        if m.group("str"):
            raw = m.group("str")[1:-1]
            out.append(Tok(re.sub(r"\\(.)", r"\1", raw), quoted=True))
        else:
            out.append(Tok(m.group("op") or m.group("word")))
        pos = m.end()
    return out


Predicate = Callable[[Any], bool]
FieldGetter = Callable[[Any, str], Any]


@dataclass
class Query:
    """A parsed query: a predicate over issues plus the ORDER BY list."""

    where: Predicate
    order: list[tuple[str, bool]]


class Parser:
    """Recursive-descent parser producing predicates over issues."""

    def __init__(self, tokens: list[Tok], get: FieldGetter, check_value: Callable[[str, str], None]) -> None:
        self.toks = tokens
        self.i = 0
        self.get = get
        self.check_value = check_value

    def peek(self) -> Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> Tok:
        tok = self.peek()
        if tok is None:
            raise JqlError(
                "Error in the JQL Query: Expecting either a value, list or function but got end of query."
            )
        self.i += 1
        return tok

    def accept(self, keyword: str) -> bool:
        tok = self.peek()
        if tok is not None and (tok.upper == keyword or (not tok.quoted and tok.text == keyword)):
            self.i += 1
            return True
        return False

    def parse(self) -> Query:
        where: Predicate = lambda issue: True  # noqa: E731
        tok = self.peek()
        if tok is not None and tok.upper != "ORDER":
            where = self.or_expr()
        order: list[tuple[str, bool]] = []
        if self.accept("ORDER"):
            if not self.accept("BY"):
                raise JqlError("Error in the JQL Query: Expecting 'BY' but got end of query.")
            while True:
                name = self.take().text.lower()
                descending = False
                if self.accept("DESC"):
                    descending = True
                else:
                    self.accept("ASC")
                order.append((name, descending))
                if not self.accept(","):
                    break
        if self.peek() is not None:
            raise JqlError(f"Error in the JQL Query: Expecting operator but got '{self.take().text}'.")
        return Query(where, order)

    def or_expr(self) -> Predicate:
        parts = [self.and_expr()]
        while self.accept("OR"):
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else (lambda issue: any(p(issue) for p in parts))

    def and_expr(self) -> Predicate:
        parts = [self.not_expr()]
        while self.accept("AND"):
            parts.append(self.not_expr())
        return parts[0] if len(parts) == 1 else (lambda issue: all(p(issue) for p in parts))

    def not_expr(self) -> Predicate:
        if self.accept("NOT"):
            inner = self.not_expr()
            return lambda issue: not inner(issue)
        if self.accept("("):
            inner = self.or_expr()
            if not self.accept(")"):
                raise JqlError("Error in the JQL Query: Expecting ')' before the end of the query.")
            return inner
        return self.clause()

    def values(self) -> list[str]:
        if not self.accept("("):
            raise JqlError("Error in the JQL Query: Expecting '(' after IN.")
        out = [self.take().text]
        while self.accept(","):
            out.append(self.take().text)
        if not self.accept(")"):
            raise JqlError("Error in the JQL Query: Expecting ')' to close the list.")
        return out

    def clause(self) -> Predicate:
        field = self.take().text.lower()
        self.get(None, field)  # raises for unknown fields
        op = self.take()
        opname = op.upper or op.text
        if opname == "IS":
            negate = self.accept("NOT")
            if not (self.accept("EMPTY") or self.accept("NULL")):
                raise JqlError("Error in the JQL Query: Expecting EMPTY or NULL after IS.")
            return lambda issue: _is_empty(self.get(issue, field)) != negate
        if opname == "NOT":
            if not self.accept("IN"):
                raise JqlError(f"Error in the JQL Query: Expecting 'IN' but got '{self.take().text}'.")
            wanted = self.values()
            for v in wanted:
                self.check_value(field, v)
            return lambda issue: not _any_equal(self.get(issue, field), wanted)
        if opname == "IN":
            wanted = self.values()
            for v in wanted:
                self.check_value(field, v)
            return lambda issue: _any_equal(self.get(issue, field), wanted)
        value = self.take().text
        if opname in ("=", "!="):
            self.check_value(field, value)
            return lambda issue: _any_equal(self.get(issue, field), [value]) == (opname == "=")
        if opname in ("~", "!~"):
            return lambda issue: _contains(self.get(issue, field), value) == (opname == "~")
        if opname in (">", "<", ">=", "<="):
            return lambda issue: _compare(self.get(issue, field), opname, value)
        raise JqlError(f"Error in the JQL Query: Expecting operator but got '{op.text}'.")


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


def _any_equal(value: Any, wanted: list[str]) -> bool:
    have = {v.lower() for v in _as_list(value)}
    return any(w.lower() in have for w in wanted)


def _contains(value: Any, phrase: str) -> bool:
    text = " ".join(_as_list(value)).lower()
    if phrase.startswith('"') and phrase.endswith('"') and len(phrase) > 1:
        return phrase[1:-1].lower() in text
    words = re.findall(r"\w+", phrase.lower().replace("*", ""))
    return bool(words) and all(w in text for w in words)


def _compare(value: Any, op: str, wanted: str) -> bool:
    if value is None:
        return False
    left, right = str(value), wanted
    return {">": left > right, "<": left < right, ">=": left >= right, "<=": left <= right}[op]


def parse(jql: str, get: FieldGetter, check_value: Callable[[str, str], None]) -> Query:
    """Parse JQL into a predicate and an ordering; JqlError on anything outside the subset."""
    return Parser(tokenize(jql), get, check_value).parse()
