"""Hybrid retrieval per org: Chroma vector search and BM25 fused by reciprocal rank (k=60)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from llama_index.core import VectorStoreIndex
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.llms import MockLLM
from llama_index.core.retrievers import BaseRetriever, QueryFusionRetriever
from llama_index.core.retrievers.fusion_retriever import FUSION_MODES
from llama_index.core.schema import NodeWithScore
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)

from knowledge.bm25 import BM25Cache
from knowledge.chunks import service_flag
from knowledge.models import Hit
from knowledge.store import ChromaStore

CANDIDATES_PER_K = 6
MIN_CANDIDATES = 30
MODES = ("hybrid", "vector", "bm25")


def filter_groups(project: str | None, service: str | None) -> list[MetadataFilters]:
    """Flat filter groups (ANDed): a document matches its own project/service or is not bound to any."""
    groups: list[MetadataFilters] = []
    if project:
        groups.append(
            MetadataFilters(filters=[MetadataFilter(key="project", value=[project, ""], operator=FilterOperator.IN)])
        )
    if service:
        groups.append(
            MetadataFilters(
                filters=[
                    MetadataFilter(key=service_flag(service), value=1, operator=FilterOperator.EQ),
                    MetadataFilter(key="service", value="", operator=FilterOperator.EQ),
                ],
                condition=FilterCondition.OR,
            )
        )
    return groups


def combined_filters(groups: list[MetadataFilters]) -> MetadataFilters | None:
    """The groups as one (nested) MetadataFilters for the vector store, or None."""
    if not groups:
        return None
    if len(groups) == 1:
        return groups[0]
    return MetadataFilters(filters=list(groups), condition=FilterCondition.AND)


class HybridSearcher:
    """Builds the per-org LlamaIndex retrievers (vector + BM25 + fusion) and turns fused nodes into hits."""

    def __init__(
        self, store: ChromaStore, embedder: BaseEmbedding, bm25_cache: BM25Cache, mode: str = "hybrid"
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"retrieval mode must be one of {', '.join(MODES)}")
        self._mode = mode
        self._store = store
        self._embedder = embedder
        self._bm25 = bm25_cache
        self._llm = MockLLM()

    def search(
        self,
        org_id: str,
        texts: Sequence[str],
        *,
        k: int,
        project: str | None = None,
        service: str | None = None,
        per_document: int = 1,
    ) -> list[list[Hit]]:
        """Search the org for each text; one best-first list of at most k hits per text."""
        empty: list[list[Hit]] = [[] for _ in texts]
        col = self._store.collection(org_id)
        if col is None or k <= 0:
            return empty
        index = self._bm25.get(col.name, self._store.version(col), lambda: self._store.nodes(col))
        if index is None:
            return empty
        groups = filter_groups(project, service)
        top_n = max(MIN_CANDIDATES, k * CANDIDATES_PER_K)
        bm25 = index.retriever_for(top_n, groups)
        if bm25 is None:
            return empty
        vector = VectorStoreIndex.from_vector_store(
            self._store.vector_store(col), embed_model=self._embedder
        ).as_retriever(similarity_top_k=min(top_n, index.size), filters=combined_filters(groups))
        by_mode: dict[str, list[BaseRetriever]] = {"hybrid": [vector, bm25], "vector": [vector], "bm25": [bm25]}
        fusion = self._fusion(by_mode[self._mode], top_n)
        results: list[list[Hit]] = []
        for text in texts:
            nodes = fusion.retrieve(text) if text.strip() else []
            results.append(to_hits(nodes, k=k, per_document=per_document))
        return results

    def _fusion(self, retrievers: list[BaseRetriever], top_n: int) -> QueryFusionRetriever:
        return QueryFusionRetriever(
            retrievers,
            llm=self._llm,
            mode=FUSION_MODES.RECIPROCAL_RANK,
            similarity_top_k=top_n,
            num_queries=1,
            use_async=False,
        )


def to_hits(nodes: list[NodeWithScore], *, k: int, per_document: int = 1) -> list[Hit]:
    """Fused nodes to hits, best first, keeping at most per_document sections of each document."""
    hits: list[Hit] = []
    per_doc: dict[str, int] = {}
    for item in nodes:
        meta: dict[str, Any] = item.node.metadata
        doc = str(meta.get("doc_key") or meta.get("path"))
        if per_document > 0 and per_doc.get(doc, 0) >= per_document:
            continue
        per_doc[doc] = per_doc.get(doc, 0) + 1
        hits.append(_hit(item, meta))
        if len(hits) >= k:
            break
    return hits


def _hit(item: NodeWithScore, meta: dict[str, Any]) -> Hit:
    section_path = str(meta.get("section", ""))
    return Hit(
        source=str(meta.get("source") or meta.get("path", "")),
        score=round(float(item.score or 0.0), 6),
        text=item.node.get_content(),
        title=str(meta.get("title", "")),
        section=section_path.rsplit(" > ", 1)[-1] if meta.get("slug") else "",
        path=str(meta.get("path", "")),
        commands=_json_list(meta.get("commands_json")),
        steps=_json_list(meta.get("steps_json")),
        links=_json_list(meta.get("links_json")),
        project=str(meta.get("project") or "") or None,
        service=str(meta.get("service") or "") or None,
        kind=str(meta.get("kind") or "runbook"),
    )


def _json_list(raw: Any) -> list[Any]:
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return []
    return list(value) if isinstance(value, list) else []
