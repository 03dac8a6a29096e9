"""Citations (`[ev 3, 7]`) and the fact check that keeps a rephrased narrative inside the timeline."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

CITATION = re.compile(r"\[ev (\d+(?:,\s*\d+)*)\]")
_LOOSE_CITATION = re.compile(r"\[\s*ev\b[^\]]*\]", re.IGNORECASE)
# Numbers, clock times, durations, ids and dates: any of these in a rephrased text must exist in the draft.
_NUMBERISH = re.compile(r"\b\d[\d:.,/%-]*[a-z%]*\b", re.IGNORECASE)
_IDENT = re.compile(r"\b(?:[A-Za-z]+[-_.][\w.-]*\w|[A-Za-z]*\d[\w-]*|[A-Z][a-z]+[A-Z]\w*)\b")
# Hyphenated English that a rephrasing may use freely (it names no system, person or quantity).
COMMON_COMPOUNDS = frozenset("on-call follow-up follow-ups well-known long-running real-time read-only root-cause "
                             "end-to-end self-healing so-called step-by-step built-in up-to-date short-term "
                             "long-term high-risk low-risk user-facing customer-facing time-to-mitigate "
                             "time-to-resolve e.g i.e".split())
_WORD = re.compile(r"\b[A-Z][a-zA-Z]{2,}\b")
_QUOTED = re.compile(r"[“\"`]([^”\"`]{3,})[”\"`]")


def cite(*versions: int | Iterable[int]) -> str:
    """`[ev 3, 7]` for the given event versions (sorted, unique)."""
    flat: set[int] = set()
    for v in versions:
        if isinstance(v, int):
            flat.add(v)
        else:
            flat.update(int(x) for x in v)
    return f"[ev {', '.join(str(v) for v in sorted(flat))}]" if flat else ""


def citations(text: str) -> set[int]:
    """Every event version cited in `text`."""
    return {int(v) for m in CITATION.finditer(text) for v in m.group(1).split(",")}


def defuse(text: str) -> str:
    """Untrusted text (chat, alerts) cannot forge a citation: `[ev 9]` becomes `(ev 9)`."""
    return _LOOSE_CITATION.sub(lambda m: "(" + m.group(0)[1:-1] + ")", text)


def prompt(text: str) -> str:
    """A line for the reviewers in a section's text (not a fact, so it needs no citation): `_text_`."""
    return f"_{text}_"


def code(text: str) -> str:
    """Inline code in a section's text: a backtick run longer than any inside, so the command stays verbatim."""
    text = " ".join(str(text).split())
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def is_guidance(line: str) -> bool:
    """Lines in italics (`_…_`) are prompts for the reviewers, not facts; headings are structure."""
    stripped = line.strip()
    return not stripped or stripped.startswith("#") or (stripped.startswith("_") and stripped.endswith("_"))


def uncited_lines(text: str) -> list[str]:
    """Factual lines (not guidance) that carry no citation."""
    return [line for line in text.splitlines() if not is_guidance(line) and not CITATION.search(line)]


@dataclass(frozen=True)
class Violation:
    """Why a rephrased section was rejected."""

    section: str
    reason: str


def verify_section(name: str, original: str, candidate: str, *, known_versions: set[int],
                   draft_text: str) -> list[Violation]:
    """Check a rephrased section: real citations only, every factual line cited, no new numbers or names."""
    out: list[Violation] = []
    if not candidate.strip():
        return [Violation(name, "the rephrased section is empty")]
    unknown = citations(candidate) - known_versions
    if unknown:
        out.append(Violation(name, f"cites events that do not exist: {sorted(unknown)}"))
    outside = citations(candidate) - citations(original)
    if outside - unknown:
        out.append(Violation(name, f"cites events the draft's section does not: {sorted(outside - unknown)}"))
    bare = uncited_lines(candidate)
    if bare:
        out.append(Violation(name, f"a factual line has no citation: “{bare[0][:80]}”"))
    haystack = draft_text.lower()
    body = CITATION.sub(" ", candidate)
    for token in sorted(set(_NUMBERISH.findall(body)) | set(_IDENT.findall(body)) | _names(body)):
        if not _contains(haystack, token.lower()) and token.lower() not in COMMON_COMPOUNDS:
            out.append(Violation(name, f"adds “{token}”, which is not in the timeline"))
            break
    for quoted in _QUOTED.findall(body):
        if quoted.lower() not in haystack:
            out.append(Violation(name, f"quotes “{quoted[:60]}”, which nobody said"))
            break
    return out


SENTENCE_STARTERS = frozenset("""The This That These Those It Its We Our They Their There Here After Before During
When While Then Once At By In On As For With Within Without From To Over Under About Around Roughly Nearly Almost
Some Most All No Nothing Both Each Every Either Neither Responders Engineers Detection Mitigation Resolution
Recovery Impact Severity Signals Signal Alerts Alert Monitoring Overall Initially Finally Later Meanwhile Users
Customers Service Services Traffic Errors Latency Key First Second Third Next Last Lessons Root Contributing
Action Actions Timeline Summary Incident Postmortem Status Commander Scribe Communications Declared Mitigated
Resolved Identified Investigating Following Because Although However Also And But Or So Yet Until Since
Response Time Duration Roles Role Links Notes Note Cause Causes Factors Nobody Everyone Someone""".split())


def _contains(haystack: str, token: str) -> bool:
    """`token` appears in `haystack` as a whole word (so `alice` is not found inside `ualice`)."""
    return re.search(rf"(?<!\w){re.escape(token)}(?!\w)", haystack) is not None


def _names(text: str) -> set[str]:
    """Capitalized words that are likely names of people or systems (common sentence starters excluded)."""
    found = set()
    for m in _WORD.finditer(text):
        before = text[:m.start()].rstrip(" *_-•")
        starts = not before or before[-1] in ".!?:\n“\"("
        if not starts or m.group(0) not in SENTENCE_STARTERS:
            found.add(m.group(0))
    return found
