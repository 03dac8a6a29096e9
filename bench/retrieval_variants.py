"""Retrieval variants measured on the dev split of the responder set (issue 16, seventh and ninth sessions), none
adopted (docs/benchmarks.md).

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

The ninth session's (`rm3`, `clauses`, `center`, `bigram`) are described at apply_ninth; restore() undoes any of them.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import bm25s
import numpy as np

from knowledge import retrieval
from knowledge.kb import KnowledgeBase
from knowledge.lexical import LexicalIndex
from knowledge.models import Hit

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
    elif not apply_ninth(kb, org, spec):
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


# --- ninth session (recall9): relevance feedback from the fused first pass, clauses, a centred vector space ---

_ORIGINAL = {
    "top": LexicalIndex.top,
    "vector": retrieval.HybridSearcher.__dict__["_vector"],
    "search": retrieval.HybridSearcher.search,
    "fuse": retrieval.fuse_convex,
}


def restore(kb: KnowledgeBase, embedder: Any) -> None:
    """Undo every patch apply() made, so the next variant starts from the product's own code."""
    LexicalIndex.top = _ORIGINAL["top"]  # type: ignore[method-assign]
    retrieval.HybridSearcher._vector = _ORIGINAL["vector"]  # type: ignore[method-assign]  # noqa: SLF001
    retrieval.HybridSearcher.search = _ORIGINAL["search"]  # type: ignore[method-assign]
    retrieval.fuse_convex = _ORIGINAL["fuse"]
    kb._searcher._embedder = embedder  # noqa: SLF001


class _Cached:
    """The embedder, remembering each text's vector (a second pass re-embeds nothing)."""

    def __init__(self, embedder: Any) -> None:
        self._embedder, self.seen = embedder, {}

    def get_text_embedding_batch(self, texts: list[str], **kw: Any) -> list[list[float]]:
        todo = [t for t in dict.fromkeys(texts) if t not in self.seen]
        if todo:
            self.seen.update(zip(todo, self._embedder.get_text_embedding_batch(todo, **kw), strict=True))
        return [self.seen[t] for t in texts]


def _fusion_similarity() -> None:
    """fuse_convex ranks by a candidate's `fusion_similarity` when it has one; the hit keeps its raw cosine,
    so the relevance floor (and abstention) is read on the same scale as in the product."""
    plain = _ORIGINAL["fuse"]

    def fuse(pool: dict[str, Any], *, alpha: float) -> None:
        raw = {}
        for node_id, c in pool.items():
            if getattr(c, "fusion_similarity", None) is not None:
                raw[node_id], c.similarity = c.similarity, c.fusion_similarity
        plain(pool, alpha=alpha)
        for node_id, sim in raw.items():
            pool[node_id].similarity = sim

    retrieval.fuse_convex = fuse


def apply_ninth(kb: KnowledgeBase, org: str, spec: str) -> bool:
    """The ninth session's variants; False when spec names none of them.

    - `rm3:BETA:TERMS:DOCS[:GAP[:idf]]`: RM3-style feedback on the BM25 side. A first hybrid pass; the DOCS best
      documents of it (their fused scores as weights) give P(w|R) = sum_D s(D) tf(w, D) / |D| over every section
      of those documents only (times the word's idf over sections with `idf`); the TERMS best words not in the
      query are searched on the BM25 side, the best at weight BETA and the others in proportion; then the usual
      fusion. With GAP > 0 the feedback runs only when the first pass's top two documents' fused scores are
      closer than GAP (a first pass that is not confident).
    - `clauses:WORDS:max|mean`: a query of more than WORDS words split at ',', ';', ' and ', ' but ', ' while ',
      ' so '; the whole query and each clause (of 2 words or more) are embedded; vector candidates from each;
      a candidate's cosine for the fusion is the max (or mean) over the vectors; the hit keeps the whole query's.
    - `center:GAMMA`: the vector side ranks by the cosine after subtracting GAMMA x the org's mean section vector
      from both sides (the common direction of runbook prose); the hit keeps its raw cosine for the floor.
    - `bigram:W`: BM25 over the sections' adjacent word pairs as a second field: + W x BM25(query's word pairs).
    """
    name, *args = spec.split(":")
    col = kb._store.collection(org)  # noqa: SLF001
    assert col is not None, f"org {org} has no collection"
    nodes = kb._store.nodes(col)  # noqa: SLF001
    tokens = kb._lexical.analyzer.tokens  # noqa: SLF001
    if name == "rm3":
        beta, terms, docs = float(args[0]), int(args[1]), int(args[2])
        gap = float(args[3]) if len(args) > 3 else 0.0
        _relevance_feedback(kb, nodes, tokens, beta, terms, docs, gap, idf=len(args) > 4 and args[4] == "idf")
    elif name == "clauses":
        _clauses(kb, int(args[0]), args[1])
    elif name == "center":
        _centred(col, float(args[0]))
    elif name == "bigram":
        _rescore_lexical(_bigram_scorer(float(args[0]), {n.node_id: n for n in nodes}, tokens))
    else:
        return False
    return True


def _doc_words(nodes: list[Any], tokens: Callable[[str], list[str]]) -> tuple[dict[str, Counter[str]], dict[str, float]]:
    """Per document (doc key), the counts of its indexed words over all its sections; each word's idf over sections."""
    from llama_index.core.schema import MetadataMode

    words: dict[str, Counter[str]] = {}
    df: Counter[str] = Counter()
    for node in nodes:
        toks = tokens(node.get_content(metadata_mode=MetadataMode.EMBED))
        words.setdefault(node.node_id.rsplit("-", 1)[0], Counter()).update(toks)
        df.update(set(toks))
    idf = {w: math.log((len(nodes) + 1) / (c + 0.5)) for w, c in df.items()}
    return words, idf


def _relevance_feedback(kb: KnowledgeBase, nodes: list[Any], tokens: Callable[[str], list[str]], beta: float,
                        terms: int, docs: int, gap: float, *, idf: bool) -> None:
    words, idfs = _doc_words(nodes, tokens)
    doc_of = {str(n.metadata.get("source") or n.metadata.get("path")): n.node_id.rsplit("-", 1)[0] for n in nodes}
    expansions: dict[tuple[str, ...], list[tuple[str, float]]] = {}
    kb._searcher._embedder = cached = _Cached(kb._searcher._embedder)  # noqa: SLF001
    plain_search, plain_top = _ORIGINAL["search"], _ORIGINAL["top"]

    def expansion(query: str, hits: list[Hit]) -> list[tuple[str, float]]:
        if len(hits) < 2 or (gap > 0 and hits[0].score - hits[1].score >= gap):
            return []
        own = set(tokens(query))
        model: Counter[str] = Counter()
        for hit in hits[:docs]:
            counts = words.get(doc_of.get(hit.source, ""), Counter())
            size = sum(counts.values()) or 1
            for word, c in counts.items():
                if word not in own:
                    model[word] += hit.score * c / size * (idfs.get(word, 0.0) if idf else 1.0)
        best = model.most_common(terms)
        return [(w, beta * v / best[0][1]) for w, v in best] if best and best[0][1] > 0 else []

    def top(self: LexicalIndex, query: Sequence[str], n: int, allowed: Any) -> list[tuple[str, float]]:
        extra = expansions.get(tuple(query))
        if not extra or self.model is None:
            return plain_top(self, query, n, allowed)
        scores = _bm25(self.model, list(query), len(self.ids))
        for word, weight in extra:
            scores = scores + weight * _bm25(self.model, [word], len(self.ids))
        if allowed is not None:
            scores = scores * np.array([1.0 if allowed(m) else 0.0 for m in self.meta])
        best = np.argsort(-scores, kind="stable")[: min(n, int(np.count_nonzero(scores > 0)))]
        return [(self.ids[i], float(scores[i])) for i in best]

    def search(self: Any, org_id: str, texts: Sequence[str], *, k: int, **kw: Any) -> list[list[Hit]]:
        first = plain_search(self, org_id, texts, k=max(k, docs, 2), **kw)
        again = {}
        for i, hits in enumerate(first):
            extra = expansion(texts[i], hits)
            if extra:
                expansions[tuple(tokens(texts[i]))] = extra
                again[i] = texts[i]
        out = [hits[:k] for hits in first]
        if again:
            second = plain_search(self, org_id, list(again.values()), k=k, **kw)
            for i, hits in zip(again, second, strict=True):
                out[i] = hits
        expansions.clear()
        cached.seen.clear()
        return out

    LexicalIndex.top = top  # type: ignore[method-assign]
    retrieval.HybridSearcher.search = search  # type: ignore[method-assign]


_CLAUSE = re.compile(r"\s*(?:[,;]|\band\b|\bbut\b|\bwhile\b|\bso\b)\s*", re.IGNORECASE)


def _clauses(kb: KnowledgeBase, min_words: int, how: str) -> None:
    assert how in ("max", "mean"), "clauses:WORDS:max|mean"
    embedder = kb._searcher._embedder  # noqa: SLF001
    split: dict[bytes, np.ndarray] = {}  # the whole query's vector -> its clauses' vectors
    plain_search = _ORIGINAL["search"]
    _fusion_similarity()

    def search(self: Any, org_id: str, texts: Sequence[str], *, k: int, **kw: Any) -> list[list[Hit]]:
        cached = _Cached(embedder)
        self._embedder = cached
        whole = cached.get_text_embedding_batch([t for t in texts if t.strip()])
        for text, vec in zip([t for t in texts if t.strip()], whole, strict=True):
            parts = [p for p in _CLAUSE.split(text) if len(p.split()) >= 2]
            if len(text.split()) > min_words and len(parts) >= 2:
                split[np.asarray(vec, dtype=np.float32).tobytes()] = np.asarray(
                    embedder.get_text_embedding_batch(parts), dtype=np.float32)
        try:
            return plain_search(self, org_id, texts, k=k, **kw)
        finally:
            self._embedder = embedder
            split.clear()

    def vector(col: Any, query: np.ndarray, n: int, where: Any, pool: dict[str, Any]) -> list[str]:
        parts = split.get(np.asarray(query, dtype=np.float32).tobytes())
        ids = _ORIGINAL["vector"].__func__(col, query, n, where, pool)
        if parts is None:
            return ids
        for part in parts:
            found = col.query(query_embeddings=[part], n_results=n, where=where, include=["distances"])
            ids += [i for i in (found.get("ids") or [[]])[0] if i not in ids]
        got = col.get(ids=ids, include=["embeddings"])
        matrix = np.asarray(got["embeddings"], dtype=np.float32)
        sims = matrix @ np.vstack([query, parts]).T  # rows: candidates, columns: the whole query, then clauses
        combined = sims.max(axis=1) if how == "max" else sims.mean(axis=1)
        for node_id, raw, fused in zip(got["ids"], sims[:, 0], combined, strict=True):
            cand = pool.setdefault(node_id, retrieval._Candidate(node_id))  # noqa: SLF001
            cand.similarity, cand.fusion_similarity = float(raw), float(fused)
        order = np.argsort(-combined, kind="stable")
        return [got["ids"][j] for j in order]

    retrieval.HybridSearcher.search = search  # type: ignore[method-assign]
    retrieval.HybridSearcher._vector = staticmethod(vector)  # type: ignore[method-assign]  # noqa: SLF001


def _centred(col: Any, gamma: float) -> None:
    got = col.get(include=["embeddings"])
    ids = list(got["ids"])
    matrix = np.asarray(got["embeddings"], dtype=np.float32)
    mean = matrix.mean(axis=0)
    centred = matrix - gamma * mean
    centred /= np.linalg.norm(centred, axis=1, keepdims=True)
    _fusion_similarity()

    def vector(col: Any, query: np.ndarray, n: int, where: Any, pool: dict[str, Any]) -> list[str]:
        assert where is None, "the centred variant is measured without project/service filters"
        q = query - gamma * mean
        sims = centred @ (q / np.linalg.norm(q))
        raw = matrix @ query
        best = np.argsort(-sims, kind="stable")[:n]
        for j in best:
            cand = pool.setdefault(ids[j], retrieval._Candidate(ids[j]))  # noqa: SLF001
            cand.similarity, cand.fusion_similarity = float(raw[j]), float(sims[j])
        return [ids[j] for j in best]

    retrieval.HybridSearcher._vector = staticmethod(vector)  # type: ignore[method-assign]  # noqa: SLF001


def _bigram_scorer(weight: float, nodes: dict[str, Any], tokens: Callable[[str], list[str]]) -> Scorer:
    from llama_index.core.schema import MetadataMode

    models: dict[int, bm25s.BM25] = {}

    def pairs(words: list[str]) -> list[str]:
        return [f"{a}_{b}" for a, b in itertools.pairwise(words)]

    def score(index: LexicalIndex, query: list[str], _first: list[tuple[str, float]]) -> np.ndarray:
        if id(index) not in models:
            models[id(index)] = bm25s.BM25()
            models[id(index)].index([pairs(tokens(nodes[i].get_content(metadata_mode=MetadataMode.EMBED))) or ["\x00"]
                                     for i in index.ids], show_progress=False)
        return weight * _bm25(models[id(index)], pairs(query), len(index.ids))

    return score
