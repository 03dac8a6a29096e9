"""Hybrid retrieval per org: Chroma vector search and a saved BM25 index, fused by weighted reciprocal rank."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from chromadb.api.models.Collection import Collection
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.schema import MetadataMode
from llama_index.core.vector_stores.utils import metadata_dict_to_node

from knowledge.chunks import service_flag
from knowledge.lexical import LexicalIndex, LexicalStore, build_index, filter_meta
from knowledge.models import Hit
from knowledge.rerank import Reranker
from knowledge.store import ChromaStore

MODES = ("hybrid", "vector", "bm25")
FUSIONS = ("convex", "rrf")
SPARE = 3  # candidates fetched beyond k, in case some were deleted since the lexical index was saved


@dataclass(frozen=True)
class FusionParams:
    """How the vector and lexical candidates are fused.

    "convex" (the default) when one section per document is asked for (and document_ranks): per document,
    alpha * cosine + (1 - alpha) * BM25, each normalised over the query's candidates (a candidate that one side did
    not return scores 0 there), so the side that separates the candidates decides. Otherwise (sections, as
    guidance's step search asks for, or method "rrf"): weighted reciprocal rank, w_vector / (k + rank_vector) +
    w_lexical / (k + rank_lexical), over document ranks when one section per document is asked for.
    Defaults chosen on the dev split of the responder set (docs/benchmarks.md)."""

    k: float = 30.0
    w_vector: float = 1.0
    w_lexical: float = 1.0
    candidates: int = 40
    document_ranks: bool = True
    method: str = "convex"
    alpha: float = 0.45

    def __post_init__(self) -> None:
        if self.method not in FUSIONS:
            raise ValueError(f"fusion method must be one of {', '.join(FUSIONS)}")
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError("fusion alpha must be between 0 and 1")


@dataclass
class _Candidate:
    node_id: str
    score: float = 0.0
    similarity: float | None = None
    lexical: float | None = None
    text: str | None = None
    meta: dict[str, Any] | None = None

    @property
    def doc(self) -> str:
        """The document key: node ids are '<doc_key>-<section index>' (chunks.build_nodes)."""
        return self.node_id.rsplit("-", 1)[0]


def chroma_where(project: str | None, service: str | None) -> dict[str, Any] | None:
    """Chroma filter: a document matches its own project/service or is not bound to any."""
    clauses: list[dict[str, Any]] = []
    if project:
        clauses.append({"project": {"$in": [project, ""]}})
    if service:
        clauses.append({"$or": [{service_flag(service): 1}, {"service": ""}]})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def meta_filter(project: str | None, service: str | None) -> Callable[[dict[str, Any]], bool] | None:
    """The same filter as chroma_where, over the lexical index's metadata."""
    if not project and not service:
        return None
    flag = service_flag(service) if service else ""

    def allowed(meta: dict[str, Any]) -> bool:
        if project and meta.get("project", "") not in (project, ""):
            return False
        return not service or meta.get(flag) == 1 or meta.get("service", "") == ""

    return allowed


class HybridSearcher:
    """Vector candidates from the org's collection, lexical candidates from its saved BM25, fused into hits."""

    def __init__(
        self, store: ChromaStore, embedder: BaseEmbedding, lexical: LexicalStore, mode: str = "hybrid",
        params: FusionParams | None = None, reranker: Reranker | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"retrieval mode must be one of {', '.join(MODES)}")
        self._mode = mode
        self._store = store
        self._embedder = embedder
        self._lexical = lexical
        self.params = params or FusionParams()
        self.reranker = reranker  # None: the fused order is final

    def lexical_index(self, col: Collection) -> LexicalIndex | None:
        """The org's lexical index at the collection's version; if absent, a rebuild starts in the background."""
        version = self._store.version(col)
        index = self._lexical.get(col.name, version)
        if index is None:
            self._lexical.rebuild_later(col.name, lambda: self.build_lexical(col))
        return index

    def build_lexical(self, col: Collection) -> LexicalIndex:
        """Build the org's lexical index from its collection (ingest time, or a background rebuild)."""
        version = self._store.version(col)
        ids, texts, meta = [], [], []
        for node in self._store.nodes(col):
            ids.append(node.node_id)
            texts.append(node.get_content(metadata_mode=MetadataMode.EMBED))
            meta.append(filter_meta(node.metadata))
        return build_index(version, ids, texts, meta, self._lexical.analyzer)

    def refresh_lexical(self, col: Collection) -> None:
        """Rebuild and save the org's lexical index now (after an ingest)."""
        self._lexical.save(col.name, self.build_lexical(col))

    def search(
        self, org_id: str, texts: Sequence[str], *, k: int, project: str | None = None,
        service: str | None = None, per_document: int = 1,
    ) -> list[list[Hit]]:
        """Search the org for each text; one best-first list of at most k hits per text."""
        results: list[list[Hit]] = [[] for _ in texts]
        col = self._store.collection(org_id)
        if col is None or k <= 0:
            return results
        lexical = self.lexical_index(col) if self._mode != "vector" else None
        live = [i for i, t in enumerate(texts) if t.strip()]
        if not live:
            return results
        vectors = np.asarray(self._embedder.get_text_embedding_batch([texts[i] for i in live]), dtype=np.float32)
        n = max(self.params.candidates, k * 6)
        where = chroma_where(project, service)
        allowed = meta_filter(project, service)
        for row, i in enumerate(live):
            pool: dict[str, _Candidate] = {}
            lists: list[tuple[float, list[str]]] = []
            if self._mode != "bm25":
                lists.append((self.params.w_vector, self._vector(col, vectors[row], n, where, pool)))
            if lexical is not None:
                found = []
                for node_id, bm25 in lexical.top(self._lexical.analyzer.tokens(texts[i]), n, allowed):
                    pool.setdefault(node_id, _Candidate(node_id)).lexical = bm25
                    found.append(node_id)
                lists.append((self.params.w_lexical, found))
            by_document = per_document == 1 and self.params.document_ranks
            if self.params.method == "convex" and by_document:
                fuse_convex(pool, alpha=self.params.alpha)
            else:  # sections (guidance's steps) keep reciprocal ranks: the convex fusion was chosen over documents
                self._fuse(pool, lists, by_document=by_document)
            ranked = sorted(pool.values(), key=lambda c: -c.score)
            chosen = _collapse(ranked, limit=k + SPARE, per_document=per_document)
            self._materialize(col, vectors[row], chosen)
            if self.reranker is not None and by_document:
                chosen = [c for c in chosen if c.meta is not None]
                rescored = self.reranker.rescore(
                    texts[i], vectors[row], [(c.text or "", c.meta or {}, c.score) for c in chosen])
                for cand, score in zip(chosen, rescored, strict=True):
                    cand.score = score
                chosen.sort(key=lambda c: -c.score)
            results[i] = to_hits([c for c in chosen if c.meta is not None], k=k, per_document=per_document)
        return results

    def _fuse(self, pool: dict[str, _Candidate], lists: list[tuple[float, list[str]]], *, by_document: bool) -> None:
        """Reciprocal-rank fusion over sections, or over documents (each list ranks documents by their best
        section, so a runbook with many matching sections does not push the others down every list)."""
        k = self.params.k
        for weight, ids in lists:
            if not by_document:
                for rank, node_id in enumerate(ids):
                    pool[node_id].score += weight / (k + rank + 1)
                continue
            doc_rank: dict[str, int] = {}
            for rank, node_id in enumerate(ids):
                doc = pool[node_id].doc
                doc_rank.setdefault(doc, len(doc_rank))
                # the document's rank decides; the section's own rank only orders sections of one document
                pool[node_id].score += weight / (k + doc_rank[doc] + 1) + 1e-6 * weight / (k + rank + 1)

    @staticmethod
    def _vector(col: Collection, vector: np.ndarray, n: int, where: dict[str, Any] | None,
                pool: dict[str, _Candidate]) -> list[str]:
        """Vector candidates (ids and similarities only) into the pool; their ids, best first."""
        found = col.query(query_embeddings=[vector], n_results=n, where=where,
                          include=["distances"])
        ids = (found.get("ids") or [[]])[0]
        for node_id, dist in zip(ids, (found.get("distances") or [[]])[0], strict=True):
            pool.setdefault(node_id, _Candidate(node_id)).similarity = 1.0 - float(dist)
        return list(ids)

    @staticmethod
    def _materialize(col: Collection, vector: np.ndarray, chosen: list[_Candidate]) -> None:
        """Fetch text and metadata of the chosen candidates (one Chroma call), and the similarity of those
        only the lexical side found. A candidate deleted since the lexical index was saved stays empty."""
        if not chosen:
            return
        include = ["documents", "metadatas"] + (["embeddings"] if any(c.similarity is None for c in chosen) else [])
        got = col.get(ids=[c.node_id for c in chosen], include=include)  # type: ignore[arg-type]
        by_id = {c.node_id: c for c in chosen}
        embeddings = got.get("embeddings")
        for j, node_id in enumerate(got.get("ids") or []):
            cand = by_id[node_id]
            cand.text = (got.get("documents") or [])[j]
            cand.meta = dict((got.get("metadatas") or [])[j] or {})
            if cand.similarity is None and embeddings is not None and len(embeddings) > j:
                cand.similarity = float(np.dot(np.asarray(embeddings[j], dtype=np.float32), vector))


def fuse_convex(pool: dict[str, _Candidate], *, alpha: float) -> None:
    """Score the pool's documents by alpha * cosine + (1 - alpha) * BM25: the cosine min-max normalised over the
    candidates that have one, BM25 divided by its best (its floor is 0); a candidate one side did not return gets 0
    there. Each side scores a document by its best section, whichever section that is; a section's own score only
    orders the sections of one document (as the document ranks of RRF do)."""
    sims = [c.similarity for c in pool.values() if c.similarity is not None]
    lo, hi = (min(sims), max(sims)) if sims else (0.0, 0.0)
    top = max((c.lexical for c in pool.values() if c.lexical is not None), default=0.0)
    own: dict[str, tuple[float, float]] = {}
    best: dict[str, tuple[float, float]] = {}
    for node_id, c in pool.items():
        vec = 0.0 if c.similarity is None else (c.similarity - lo) / (hi - lo) if hi > lo else 1.0
        lex = c.lexical / top if c.lexical is not None and top > 0 else 0.0
        own[node_id] = (vec, lex)
        doc_vec, doc_lex = best.get(c.doc, (0.0, 0.0))
        best[c.doc] = (max(doc_vec, vec), max(doc_lex, lex))
    for node_id, c in pool.items():
        doc_vec, doc_lex = best[c.doc]
        section = alpha * own[node_id][0] + (1 - alpha) * own[node_id][1]
        c.score = alpha * doc_vec + (1 - alpha) * doc_lex + 1e-6 * section


def _collapse(ranked: Sequence[_Candidate], *, limit: int, per_document: int) -> list[_Candidate]:
    """The best candidates, at most per_document of each document (0: no cap), at most limit of them."""
    out: list[_Candidate] = []
    per_doc: dict[str, int] = {}
    for cand in ranked:
        if per_document > 0 and per_doc.get(cand.doc, 0) >= per_document:
            continue
        per_doc[cand.doc] = per_doc.get(cand.doc, 0) + 1
        out.append(cand)
        if len(out) >= limit:
            break
    return out


def to_hits(ranked: Sequence[_Candidate], *, k: int, per_document: int = 1) -> list[Hit]:
    """Fused candidates to hits, best first, keeping at most per_document sections of each document."""
    hits: list[Hit] = []
    per_doc: dict[str, int] = {}
    for cand in ranked:
        meta = cand.meta or {}
        doc = str(meta.get("doc_key") or meta.get("path"))
        if per_document > 0 and per_doc.get(doc, 0) >= per_document:
            continue
        per_doc[doc] = per_doc.get(doc, 0) + 1
        hits.append(_hit(cand, meta))
        if len(hits) >= k:
            break
    return hits


def _hit(cand: _Candidate, meta: dict[str, Any]) -> Hit:
    node = metadata_dict_to_node(dict(meta), text=cand.text or "")
    section_path = str(meta.get("section", ""))
    return Hit(
        source=str(meta.get("source") or meta.get("path", "")),
        score=round(cand.score, 6),
        text=node.get_content(),
        title=str(meta.get("title", "")),
        section=section_path.rsplit(" > ", 1)[-1] if meta.get("slug") else "",
        path=str(meta.get("path", "")),
        commands=_json_list(meta.get("commands_json")),
        steps=_json_list(meta.get("steps_json")),
        links=_json_list(meta.get("links_json")),
        project=str(meta.get("project") or "") or None,
        service=str(meta.get("service") or "") or None,
        kind=str(meta.get("kind") or "runbook"),
        similarity=round(cand.similarity, 4) if cand.similarity is not None else None,
        url=str(meta.get("url") or "") or None,
    )


def _json_list(raw: Any) -> list[Any]:
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return []
    return list(value) if isinstance(value, list) else []
