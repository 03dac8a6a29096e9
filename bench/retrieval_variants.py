"""Vocabulary variants measured on the dev split of the responder set (issue 16, seventh session), none adopted.

`bench/retrieval_quality.py --variant SPEC` applies one to the benchmark's knowledge base after ingest, so each
can be measured again (say, once a reranking stage lands). Each patches the process, not the product; every
word they add comes from the indexed runbooks or the query, never from a synonym list:

- `field:W`: BM25 over each section's runbook card (title, aliases, alert vocabulary) as a separate field:
  a section scores BM25(indexed text) + W x BM25(card);
- `prf:BETA:TERMS`: pseudo-relevance feedback on the BM25 side only: the TERMS best words (tf x idf) of the cards
  of the documents of the first BM25 hits (`prf:BETA:TERMS:DOCS`, default 1) are searched too, weight BETA;
- `assoc:BETA:TERMS`: term association mined from co-occurrence within sections: the TERMS words that co-occur
  most with the query's words (p(u|q) x log(p(u|q) / p(u)), over sections) are searched on the BM25 side, weight BETA;
- `prefix:TEXT`: the query is embedded as TEXT + query (the BM25 side is unchanged);
- `card-vector:N`: each runbook's card is embedded alone; the N cards nearest to the query join the vector side's
  candidates (as their document's first section, with the card's cosine when it is the higher).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import bm25s
import numpy as np

from knowledge import retrieval
from knowledge.kb import KnowledgeBase
from knowledge.lexical import LexicalIndex

CARD_KEYS = ("title", "aliases", "vocabulary")
Scorer = Callable[[LexicalIndex, list[str], list[tuple[str, float]]], np.ndarray]


def apply(kb: KnowledgeBase, org: str, spec: str) -> None:
    """Patch the process so that kb's searches use the variant named by spec."""
    name, *args = spec.split(":", 1 if spec.startswith("prefix:") else 3)
    col = kb._store.collection(org)  # noqa: SLF001 - a benchmark reads the org's nodes back
    assert col is not None, f"org {org} has no collection"
    nodes = kb._store.nodes(col)  # noqa: SLF001
    tokens = kb._lexical.analyzer.tokens  # noqa: SLF001
    cards = {n.node_id: " ".join(str(n.metadata.get(key, "")) for key in CARD_KEYS) for n in nodes}
    if name == "field":
        _rescore_lexical(_field_scorer(float(args[0]), cards, tokens))
    elif name == "prf":
        _rescore_lexical(_feedback_scorer(float(args[0]), int(args[1]), int(args[2]) if len(args) > 2 else 1,
                                          cards, tokens))
    elif name == "assoc":
        _rescore_lexical(_association_scorer(float(args[0]), int(args[1]), [set(tokens(n.text)) for n in nodes]))
    elif name == "prefix":
        kb._searcher._embedder = _Prefixed(kb.embedder, args[0])  # noqa: SLF001
    elif name == "card-vector":
        _card_candidates(kb, nodes, int(args[0]))
    else:
        raise SystemExit(f"unknown variant {spec!r} (see bench/retrieval_variants.py)")


def _rescore_lexical(extra: Scorer) -> None:
    """LexicalIndex.top with the scorer's scores added to BM25's (the filter applied to both)."""
    plain = LexicalIndex.top

    def top(self: LexicalIndex, query: Sequence[str], n: int, allowed: Any) -> list[tuple[str, float]]:
        first = plain(self, query, n, allowed)
        if self.model is None:
            return first
        scores = _bm25(self.model, list(query), len(self.ids)) + extra(self, list(query), first)
        if allowed is not None:
            scores = scores * np.array([1.0 if allowed(m) else 0.0 for m in self.meta])
        best = np.argsort(-scores, kind="stable")[: min(n, int(np.count_nonzero(scores > 0)))]
        return [(self.ids[i], float(scores[i])) for i in best]

    LexicalIndex.top = top  # type: ignore[method-assign]


def _bm25(model: bm25s.BM25, words: list[str], size: int) -> np.ndarray:
    known = [w for w in words if w in model.vocab_dict]
    return np.asarray(model.get_scores(known)) if known else np.zeros(size)


def _field_scorer(weight: float, cards: dict[str, str], tokens: Callable[[str], list[str]]) -> Scorer:
    models: dict[int, bm25s.BM25] = {}

    def score(index: LexicalIndex, query: list[str], _first: list[tuple[str, float]]) -> np.ndarray:
        if id(index) not in models:
            models[id(index)] = bm25s.BM25()
            models[id(index)].index([tokens(cards.get(i, "")) or ["\x00"] for i in index.ids], show_progress=False)
        return weight * _bm25(models[id(index)], query, len(index.ids))

    return score


def _feedback_scorer(beta: float, terms: int, docs: int, cards: dict[str, str],
                     tokens: Callable[[str], list[str]]) -> Scorer:
    card_words = {node_id.rsplit("-", 1)[0]: tokens(text) for node_id, text in cards.items()}
    df = Counter(w for words in card_words.values() for w in set(words))

    def score(index: LexicalIndex, query: list[str], first: list[tuple[str, float]]) -> np.ndarray:
        top_docs = list(dict.fromkeys(node_id.rsplit("-", 1)[0] for node_id, _ in first))[:docs]
        weight: Counter[str] = Counter()
        for doc in top_docs:
            counts = Counter(card_words.get(doc, []))
            for word, c in counts.items():
                if word not in query:
                    weight[word] += c / max(1, sum(counts.values())) * math.log((len(card_words) + 1) / (df[word] + 0.5))
        expansion = [w for w, _ in weight.most_common(terms)]
        return beta * _bm25(index.model, expansion, len(index.ids)) if expansion else np.zeros(len(index.ids))

    return score


def _association_scorer(beta: float, terms: int, sections: list[set[str]]) -> Scorer:
    df = Counter(w for words in sections for w in words)
    cache: dict[str, dict[str, float]] = {}

    def associated(word: str) -> dict[str, float]:
        if word not in cache:
            co = Counter(u for words in sections if word in words for u in words)
            n = df.get(word, 0)
            cache[word] = {u: c / n * math.log(c / n * len(sections) / df[u]) for u, c in co.items()
                           if u != word and df[u] >= 2} if n >= 2 else {}
        return cache[word]

    def score(index: LexicalIndex, query: list[str], _first: list[tuple[str, float]]) -> np.ndarray:
        weight: Counter[str] = Counter()
        for word in set(query):
            weight.update({u: v for u, v in associated(word).items() if v > 0 and u not in query})
        expansion = [w for w, _ in weight.most_common(terms)]
        return beta * _bm25(index.model, expansion, len(index.ids)) if expansion else np.zeros(len(index.ids))

    return score


class _Prefixed:
    """The embedder, with a fixed text before every query."""

    def __init__(self, embedder: Any, prefix: str) -> None:
        self._embedder, self._prefix = embedder, prefix

    def get_text_embedding_batch(self, texts: list[str], **kw: Any) -> list[list[float]]:
        return self._embedder.get_text_embedding_batch([self._prefix + t for t in texts], **kw)


def _card_candidates(kb: KnowledgeBase, nodes: list[Any], n: int) -> None:
    first: dict[str, str] = {}
    text: dict[str, str] = {}
    for node in nodes:
        doc, index = node.node_id.rsplit("-", 1)
        if node.metadata.get("kind") == "runbook" and node.metadata.get("vocabulary"):
            if doc not in first or int(index) < int(first[doc].rsplit("-", 1)[1]):
                first[doc] = node.node_id
            text[doc] = "\n".join(f"{key}: {node.metadata.get(key, '')}" for key in CARD_KEYS)
    docs = list(text)
    matrix = np.asarray(kb.embedder.get_text_embedding_batch([text[d] for d in docs]), dtype=np.float32)
    plain = retrieval.HybridSearcher._vector  # noqa: SLF001

    def vector(col: Any, query: np.ndarray, k: int, where: Any, pool: dict[str, Any]) -> list[str]:
        ids = plain(col, query, k, where, pool)
        sims = matrix @ query
        for j in np.argsort(-sims)[:n]:
            cand = pool.setdefault(first[docs[j]], retrieval._Candidate(first[docs[j]]))  # noqa: SLF001
            cand.similarity = max(cand.similarity if cand.similarity is not None else -1.0, float(sims[j]))
            if cand.node_id not in ids:
                ids.append(cand.node_id)
        return ids

    retrieval.HybridSearcher._vector = staticmethod(vector)  # type: ignore[method-assign]  # noqa: SLF001
