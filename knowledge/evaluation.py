"""Retrieval evaluation over a JSONL query set: recall@k and mean reciprocal rank."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from knowledge.models import EvalReport, Hit, KnowledgeError, QueryOutcome


@dataclass(frozen=True)
class EvalQuery:
    """One labelled query: text or an alert payload, and the sources that answer it."""

    id: str
    query: str | dict[str, Any]
    expected: tuple[str, ...]


def load_queries(path: Path) -> list[EvalQuery]:
    """Read {"id", "query", "expected": [...]} lines; blank lines and '#' comments are skipped."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise KnowledgeError(f"cannot read query set {path}: {exc.strerror}") from exc
    queries: list[EvalQuery] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            row = json.loads(line)
            expected = row["expected"]
            query = row["query"]
        except (ValueError, KeyError, TypeError) as exc:
            raise KnowledgeError(f"{path}:{number}: expected a JSON object with query and expected") from exc
        if isinstance(expected, str):
            expected = [expected]
        if not isinstance(query, str | dict) or not expected:
            raise KnowledgeError(f"{path}:{number}: query must be text or an object, expected non-empty")
        queries.append(EvalQuery(str(row.get("id", number)), query, tuple(str(e) for e in expected)))
    return queries


def matches(source: str, expected: str) -> bool:
    """A hit answers an expectation: same section, or same document when no section is expected."""
    if "#" in expected:
        return source == expected
    return source.split("#", 1)[0] == expected


def first_relevant_rank(sources: Sequence[str], expected: Sequence[str]) -> int | None:
    """1-based rank of the first source matching any expectation, or None."""
    for rank, source in enumerate(sources, start=1):
        if any(matches(source, e) for e in expected):
            return rank
    return None


def recall_at(sources: Sequence[str], expected: Sequence[str], k: int) -> float:
    """1.0 when any acceptable source is in the top k, else 0.0 (expected lists alternatives)."""
    rank = first_relevant_rank(sources[:k], expected)
    return 1.0 if rank is not None else 0.0


def score(queries: Sequence[EvalQuery], results: Sequence[Sequence[Hit]], k_values: Sequence[int]) -> EvalReport:
    """Aggregate recall@k and MRR over queries and their ranked hits."""
    if len(queries) != len(results):
        raise ValueError("one result list per query is required")
    outcomes: list[QueryOutcome] = []
    recall = {k: 0.0 for k in k_values}
    reciprocal = 0.0
    for query, hits in zip(queries, results, strict=True):
        sources = [h.source for h in hits]
        rank = first_relevant_rank(sources, query.expected)
        reciprocal += 1.0 / rank if rank else 0.0
        for k in k_values:
            recall[k] += recall_at(sources, query.expected, k)
        outcomes.append(QueryOutcome(query.id, rank, list(query.expected), sources))
    n = len(queries)
    return EvalReport(
        recall={k: (v / n if n else 0.0) for k, v in recall.items()},
        mrr=reciprocal / n if n else 0.0,
        n=n,
        outcomes=outcomes,
    )
