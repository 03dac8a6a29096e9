"""Text helpers for guidance: salient terms and relevance, and the steps (with their commands) of a section."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from knowledge.markdown import split_camel

_STOP = frozenset(
    "a an and are as at be been but by can could did do does for from had has have how i if in into is it its "
    "just may more most no not of on or our so some such than that the their then there these they this to "
    "too very was we were what when where which while who why will with would you your all any also only own "
    "same other each few both here about again against been being between during further once should now "
    "get got use used using see via per one two three four five already sorry hey thanks".split()
)
# Words nearly every alert, runbook and chat line contains: they say nothing about which runbook applies.
_GENERIC = frozenset(
    "error service alert fire firing critical warning high low rate ratio incident issue problem prod production "
    "please check look minute second hour request spike increase above below threshold value app application "
    "system team status severity page paged ack acknowledged investigate investigating anyone know seem seeing "
    "think still start started happen happening now since today yesterday sev sev1 sev2 sev3 sev4 cluster "
    "env environment http https www com example summary description".split()
)
_TOKEN = re.compile(r"[a-z0-9]+")
_ITEM = re.compile(r"^\s{0,6}(?:\d{1,3}[.)]|[-*+])\s+(.*)$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_PROMPT = re.compile(r"^\s*(?:\$|%|#)\s+")


def stem(word: str) -> str:
    """A light English stemmer, the same on both sides of every comparison."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word


def terms(text: str) -> set[str]:
    """Salient stemmed terms: CamelCase split, stop and generic incident words dropped, a letter required."""
    words = _TOKEN.findall(split_camel(text).lower() + " " + text.lower())
    out = set()
    for word in words:
        if len(word) < 3 or word in _STOP or not re.search(r"[a-z]", word):
            continue
        stemmed = stem(word)
        if stemmed not in _GENERIC and word not in _GENERIC:
            out.add(stemmed)
    return out


def relevance(query: dict[str, float], document: set[str], *, saturation: int = 5) -> tuple[float, list[str]]:
    """Weighted share of the query's salient terms found in the document (saturating) and the terms matched."""
    if not query:
        return 0.0, []
    matched = sorted(query.keys() & document, key=lambda t: (-query[t], t))
    got = sum(query[t] for t in matched)
    heaviest = sum(sorted(query.values(), reverse=True)[: int(saturation)])
    return min(1.0, got / heaviest), matched


def clean_step(text: str) -> str:
    """A list item as one readable line: links to their text, whitespace collapsed, trailing colon dropped."""
    text = _LINK.sub(r"\1", text)
    return re.sub(r"\s+", " ", text).strip().rstrip(":").strip()


@dataclass
class Step:
    """One list item of a section and the commands written under it (verbatim, in order)."""

    text: str
    commands: list[dict[str, str]] = field(default_factory=list)


def _first_line(command: str) -> str:
    return _PROMPT.sub("", command.strip().split("\n", 1)[0]).strip()


def split_steps(text: str, steps: list[str],
                commands: Iterable[dict[str, str]]) -> tuple[list[Step], list[dict[str, str]]]:
    """Assign each command to the list item it is written under; returns (items, loose commands)."""
    blocks: list[list[str]] = []
    in_fence = False
    for line in text.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
        item = None if in_fence else _ITEM.match(line)
        if item and not line.startswith((" " * 7, "\t\t")):
            blocks.append([item.group(1)])
        elif blocks:
            blocks[-1].append(line)
    items = []
    for i, block in enumerate(blocks):
        first = [ln for ln in block if ln.strip()][:1] or [""]
        title = steps[i] if len(steps) == len(blocks) else first[0]
        items.append(Step(clean_step(title)))
    loose: list[dict[str, str]] = []
    for command in commands:
        head = _first_line(str(command.get("command", "")))[:60]
        owner = next((i for i, b in enumerate(blocks) if head and head in "\n".join(b)), None)
        (items[owner].commands if owner is not None else loose).append(dict(command))
    return items, loose
