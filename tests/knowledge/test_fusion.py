"""Fusion of the vector and lexical candidates: the convex combination (the default) and reciprocal rank."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from knowledge.kb import KnowledgeBase
from knowledge.retrieval import FusionParams, _Candidate, fuse_convex
from tests.knowledge.conftest import write


def pool_of(*rows: tuple[str, float | None, float | None]) -> dict[str, _Candidate]:
    """Candidates from (node id '<doc>-<section>', cosine or None, BM25 score or None)."""
    return {node_id: _Candidate(node_id, similarity=sim, lexical=bm25) for node_id, sim, bm25 in rows}


def order(pool: dict[str, _Candidate]) -> list[str]:
    return [c.node_id for c in sorted(pool.values(), key=lambda c: -c.score)]


def test_the_side_that_separates_the_candidates_decides() -> None:
    # a: first on the vector side by a hair, a weak lexical match; b: the clear lexical winner.
    # Reciprocal rank sees 1 + 2 against 2 + 1, a tie; the scores say b.
    pool = pool_of(("a-0", 0.61, 1.0), ("b-0", 0.60, 9.0), ("c-0", 0.30, None))
    fuse_convex(pool, alpha=0.45)
    assert order(pool) == ["b-0", "a-0", "c-0"]
    assert pool["b-0"].score == pytest.approx(0.45 * (0.30 / 0.31) + 0.55 * 1.0, abs=1e-5)
    assert pool["c-0"].score == pytest.approx(0.0, abs=1e-5)  # the lowest cosine and no lexical match


def test_alpha_weighs_the_sides() -> None:
    rows = (("a-0", 0.70, 1.0), ("b-0", 0.50, 5.0))
    only_vector, only_lexical = pool_of(*rows), pool_of(*rows)
    fuse_convex(only_vector, alpha=1.0)
    fuse_convex(only_lexical, alpha=0.0)
    assert order(only_vector) == ["a-0", "b-0"]
    assert order(only_lexical) == ["b-0", "a-0"]


def test_a_document_is_scored_by_each_sides_best_section() -> None:
    # doc d: its intro is the best vector match, its diagnosis the best lexical one; e has one section good at both
    rows = (("d-0", 0.80, None), ("d-1", 0.60, 8.0), ("e-0", 0.70, 7.0), ("f-0", 0.40, None))
    pool = pool_of(*rows)
    fuse_convex(pool, alpha=0.5)
    assert pool["d-0"].score == pytest.approx(0.5 * 1.0 + 0.5 * 1.0, abs=1e-5)
    assert pool["d-1"].score == pytest.approx(pool["d-0"].score, abs=1e-5)
    assert pool["e-0"].score == pytest.approx(0.5 * 0.75 + 0.5 * 0.875, abs=1e-5)
    # the section's own score orders the sections of one document
    assert order(pool) == ["d-1", "d-0", "e-0", "f-0"]


def test_one_sided_and_degenerate_pools() -> None:
    lexical_only = pool_of(("a-0", None, 2.0), ("b-0", None, 4.0))
    fuse_convex(lexical_only, alpha=0.45)
    assert order(lexical_only) == ["b-0", "a-0"]
    one_vector = pool_of(("a-0", 0.5, None))  # a single cosine is the best one, not the worst
    fuse_convex(one_vector, alpha=0.45)
    assert one_vector["a-0"].score == pytest.approx(0.45, abs=1e-5)
    empty: dict[str, _Candidate] = {}
    fuse_convex(empty, alpha=0.45)
    assert empty == {}


def test_fusion_parameters_are_checked() -> None:
    assert FusionParams().method == "convex"
    with pytest.raises(ValueError, match="convex, rrf"):
        FusionParams(method="max")
    with pytest.raises(ValueError, match="alpha"):
        FusionParams(alpha=1.5)


RUNBOOKS = {
    "disk.md": "# Disk filling up\n\n## Meaning\n\nThe root filesystem of a node is almost full.\n\n"
               "## Mitigation\n\nDelete old journal files and rotate the logs.\n",
    "queue.md": "# Queue backlog\n\n## Meaning\n\nConsumers of the orders queue fall behind and messages pile up.\n\n"
                "## Diagnosis\n\nLook for `ERR_QBL_4471` in the consumer logs; it means a poison message.\n",
    "tls.md": "# Certificate expiry\n\n## Meaning\n\nA TLS certificate expires within days.\n\n"
              "## Mitigation\n\nRenew the certificate with cert-manager.\n",
}


@pytest.mark.parametrize("method", ["convex", "rrf"])
def test_both_fusions_search_a_real_index(tmp_path: Path, open_kb: Callable[..., KnowledgeBase], method: str) -> None:
    for rel, text in RUNBOOKS.items():
        write(tmp_path / "runbooks", rel, text)
    kb = open_kb(data_dir=tmp_path / "data", fusion=FusionParams(method=method))
    kb.ingest(tmp_path / "runbooks", "org-1")
    hits = kb.search("org-1", "ERR_QBL_4471 keeps showing up", k=3)
    assert [h.path for h in hits][0] == "queue.md"
    assert len({h.path for h in hits}) == 3
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    if method == "convex":
        assert all(0.0 <= h.score <= 1.0 + 1e-5 for h in hits)
    sections = kb.search("org-1", "the node's disk is almost full, journal files", k=3, per_document=0)
    assert sections[0].path == "disk.md"


def test_sections_keep_reciprocal_ranks(tmp_path: Path, open_kb: Callable[..., KnowledgeBase]) -> None:
    # guidance's step search asks for sections (per_document=0): the convex fusion, chosen over documents, is not used
    for rel, text in RUNBOOKS.items():
        write(tmp_path / "runbooks", rel, text)
    kb = open_kb(data_dir=tmp_path / "data")
    kb.ingest(tmp_path / "runbooks", "org-1")
    hits = kb.search("org-1", "ERR_QBL_4471 keeps showing up", k=3, per_document=0)
    assert hits and all(h.score <= 2 / 31 + 1e-5 for h in hits)  # RRF: at most 1/(30 + 1) from each list
    assert max(h.score for h in kb.search("org-1", "ERR_QBL_4471 keeps showing up", k=3)) > 2 / 31
