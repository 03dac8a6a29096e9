"""Value objects the knowledge base hands out: search hits, ingest reports and evaluation reports."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


class KnowledgeError(Exception):
    """A knowledge-base failure whose message is written for the operator (bad path, wrong embedder…)."""


@dataclass(frozen=True)
class Hit:
    """One retrieved section: where it comes from, how well it matched, and what it says."""

    source: str
    score: float
    text: str
    title: str = ""
    section: str = ""
    path: str = ""
    commands: list[dict[str, str]] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    links: list[dict[str, str]] = field(default_factory=list)
    project: str | None = None
    service: str | None = None
    kind: str = "runbook"
    similarity: float | None = None
    url: str | None = None  # the file at the synced commit, for documents from a source
    # similarity ≥ the embedder's calibrated relevance floor; None when the embedder has no calibration.
    # A client abstains when no hit of a query is relevant (the hits themselves are still returned).
    relevant: bool | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: source, score, text first, then the structured fields."""
        return asdict(self)


@dataclass(frozen=True)
class IngestReport:
    """What one ingest run did, in documents (files) and indexed sections."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    sections: int = 0

    def to_json(self) -> dict[str, int]:
        """A JSON-ready dict of the counters."""
        return asdict(self)

    def summary(self) -> str:
        """One line for humans."""
        return (
            f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.removed} removed ({self.sections} sections indexed)"
        )


@dataclass(frozen=True)
class QueryOutcome:
    """How one evaluation query fared: the rank (1-based) of its first relevant hit, or None."""

    id: str
    rank: int | None
    expected: list[str]
    retrieved: list[str]


@dataclass(frozen=True)
class EvalReport:
    """Retrieval quality over a query set: recall@k for each k, mean reciprocal rank, query count."""

    recall: dict[int, float]
    mrr: float
    n: int
    outcomes: list[QueryOutcome] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (per-query outcomes included)."""
        return {
            "n": self.n,
            "mrr": self.mrr,
            "recall": {str(k): v for k, v in self.recall.items()},
            "outcomes": [asdict(o) for o in self.outcomes],
        }

    def summary(self) -> str:
        """One line for humans: 'recall@1 0.850  recall@3 0.950  recall@5 0.975  MRR 0.903  (n=40)'."""
        parts = [f"recall@{k} {v:.3f}" for k, v in sorted(self.recall.items())]
        return "  ".join([*parts, f"MRR {self.mrr:.3f}", f"(n={self.n})"])
