"""The optional rerank stage after fusion (knowledge/rerank.py): its signals, its absence, and tenancy."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from knowledge.embedder_onnx import OnnxMiniLMEmbedding
from knowledge.kb import KnowledgeBase
from knowledge.lexical import Analyzer
from knowledge.rerank import Reranker, RerankParams, sentences
from tests.knowledge.conftest import DEMO_ORG, write

RELEVANT = ("Check the connection count.\nPostgreSQL refuses new connections when max_connections is reached; "
            "raise the pool limit or find the client that leaks connections.")
IRRELEVANT = ("Rotate the TLS certificate.\nThe ingress certificate expires in seven days; renew it with "
              "cert-manager and reload the ingress controller.")
QUERY = "the database refuses connections, too many clients"


def test_sentences_splits_lines_and_sentences_and_drops_fragments() -> None:
    got = sentences("# Title\nA first sentence is here. Second one follows!\n- ok\n", limit=5, max_chars=600)
    assert got == ["A first sentence is here.", "Second one follows!"]  # longest first
    assert sentences("one two three four five. " * 3, limit=5, max_chars=9) == ["one two t"]


@pytest.mark.parametrize("signal", ["sentences", "coverage"])
def test_each_signal_puts_the_relevant_passage_first(signal: str) -> None:
    embedder = OnnxMiniLMEmbedding()  # the shipped model, loaded from the repository (offline)
    reranker = Reranker(RerankParams(signal=signal, top=2, weight=1.0), embedder=embedder, analyzer=Analyzer())
    vector = np.asarray(embedder.get_query_embedding(QUERY), dtype=np.float32)
    # fused order says the irrelevant passage first, by a small margin
    scores = reranker.rescore(QUERY, vector, [(IRRELEVANT, {}, 0.60), (RELEVANT, {}, 0.55)])
    assert scores[1] > scores[0]


def test_the_card_signal_reads_title_aliases_and_vocabulary() -> None:
    reranker = Reranker(RerankParams(signal="card", top=2, weight=1.0), embedder=OnnxMiniLMEmbedding(),
                        analyzer=Analyzer())
    tls = {"title": "Certificate expiry", "aliases": "tls cert", "vocabulary": "x509 expires"}
    db = {"title": "Postgres", "aliases": "database", "vocabulary": "too many clients connections"}
    # the same section text for both: only the card tells them apart
    scores = reranker.rescore(QUERY, np.zeros(384, dtype=np.float32), [(IRRELEVANT, tls, 0.6), (IRRELEVANT, db, 0.55)])
    assert scores[1] > scores[0]


def test_only_the_top_candidates_are_rescored_and_weight_zero_changes_nothing() -> None:
    reranker = Reranker(RerankParams(signal="coverage", top=2, weight=1.0), embedder=OnnxMiniLMEmbedding(),
                        analyzer=Analyzer())
    vector = np.zeros(384, dtype=np.float32)
    cands: list[tuple[str, dict[str, str], float]] = [(IRRELEVANT, {}, 0.9), (RELEVANT, {}, 0.8), (RELEVANT, {}, 0.1)]
    scores = reranker.rescore(QUERY, vector, cands)
    assert scores[2] == 0.1 and scores[1] > 0.8
    idle = Reranker(RerankParams(signal="coverage", top=2, weight=0.0), embedder=OnnxMiniLMEmbedding(),
                    analyzer=Analyzer())
    assert idle.rescore(QUERY, vector, cands) == [0.9, 0.8, 0.1]


def test_params_are_checked() -> None:
    with pytest.raises(ValueError, match="signal"):
        RerankParams(signal="cross-encoder")
    with pytest.raises(ValueError, match="top"):
        RerankParams(top=1)


def ranking(kb: KnowledgeBase, org: str, queries: list[str]) -> list[list[tuple[str, float]]]:
    return [[(h.source, h.score) for h in hits] for hits in kb.search_batch(org, queries, 5)]


def test_without_a_reranker_the_fused_ranking_is_unchanged(demo_kb: KnowledgeBase) -> None:
    queries = ["database says too many clients", "pods keep restarting after the deploy", "disk filling up"]
    searcher = demo_kb._searcher  # noqa: SLF001 - the stage is attached to the searcher
    assert searcher.reranker is None  # nothing in the product attaches one
    before = ranking(demo_kb, DEMO_ORG, queries)
    try:
        searcher.reranker = Reranker(RerankParams(signal="coverage", weight=0.0), embedder=demo_kb.embedder,
                                     analyzer=Analyzer())
        assert ranking(demo_kb, DEMO_ORG, queries) == before
        searcher.reranker = Reranker(RerankParams(signal="coverage", top=5, weight=5.0), embedder=demo_kb.embedder,
                                     analyzer=Analyzer())
        reranked = ranking(demo_kb, DEMO_ORG, queries)
    finally:
        searcher.reranker = None
    assert ranking(demo_kb, DEMO_ORG, queries) == before
    for old, new in zip(before, reranked, strict=True):
        assert sorted(s for s, _ in old) == sorted(s for s, _ in new)  # the same five documents, maybe reordered
        assert [score for _, score in new] == sorted((score for _, score in new), reverse=True)


def test_rerank_keeps_each_org_to_its_own_documents(tmp_path: Path, open_kb: Callable[..., KnowledgeBase]) -> None:
    kb = open_kb(data_dir=tmp_path / "data")
    write(tmp_path / "a", "db.md", f"# Postgres connections\n\n{RELEVANT}\n")
    write(tmp_path / "b", "db.md", f"# Postgres connections of b\n\n{RELEVANT}\n\n## Secret\n\nOrg b only.\n")
    write(tmp_path / "b", "tls.md", f"# Certificates\n\n{IRRELEVANT}\n")
    kb.ingest(tmp_path / "a", "org-a")
    kb.ingest(tmp_path / "b", "org-b")
    kb._searcher.reranker = Reranker(RerankParams(signal="sentences", top=5, weight=1.0),  # noqa: SLF001
                                     embedder=kb.embedder, analyzer=Analyzer())
    hits = kb.search("org-a", QUERY, k=5)
    assert hits and all(h.title == "Postgres connections" for h in hits)
    assert {h.title for h in kb.search("org-b", QUERY, k=5)} <= {"Postgres connections of b", "Certificates"}
