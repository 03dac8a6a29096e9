"""One BM25 index per org, rebuilt from the org's Chroma nodes and cached by content version."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import Stemmer
from llama_index.core.schema import BaseNode, NodeWithScore, QueryBundle
from llama_index.core.vector_stores.types import MetadataFilters
from llama_index.core.vector_stores.utils import build_metadata_filter_fn
from llama_index.retrievers.bm25 import BM25Retriever

_MAX_MASKS = 256


class PositiveBM25Retriever(BM25Retriever):
    """BM25Retriever that drops zero-score results (no query term matched, or masked out by a filter)."""

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        if not query_bundle.query_str.strip():
            return []
        return [n for n in super()._retrieve(query_bundle) if (n.score or 0.0) > 0.0]


@dataclass
class OrgBM25:
    """A built BM25 index for one org plus the node metadata needed to apply filters."""

    retriever: BM25Retriever
    metadata: list[dict[str, Any]]
    masks: dict[str, list[int]] = field(default_factory=dict)

    @property
    def size(self) -> int:
        """Number of indexed nodes."""
        return len(self.metadata)

    def mask(self, groups: list[MetadataFilters]) -> list[int] | None:
        """0/1 per node: 1 when the node passes every filter group (None when there is no filter)."""
        if not groups:
            return None
        key = "&".join(g.model_dump_json() for g in groups)
        if key not in self.masks:
            if len(self.masks) >= _MAX_MASKS:
                self.masks.clear()
            checks = [build_metadata_filter_fn(lambda i: self.metadata[int(i)], g) for g in groups]
            self.masks[key] = [int(all(check(str(i)) for check in checks)) for i in range(self.size)]
        return self.masks[key]

    def retriever_for(self, top_k: int, groups: list[MetadataFilters]) -> BM25Retriever | None:
        """A retriever sharing this index with its own top_k and filter mask; None if nothing passes."""
        mask = self.mask(groups)
        if mask is not None and not any(mask):
            return None
        return PositiveBM25Retriever(
            existing_bm25=self.retriever.bm25,
            stemmer=self.retriever.stemmer,
            similarity_top_k=max(1, min(top_k, self.size)),
            corpus_weight_mask=mask,
            skip_stemming=self.retriever.skip_stemming,
            token_pattern=self.retriever.token_pattern,
        )


def build_org_bm25(nodes: list[BaseNode]) -> OrgBM25 | None:
    """Index nodes with LlamaIndex's BM25Retriever (bm25s, English stemming and stop words)."""
    if not nodes:
        return None
    retriever = BM25Retriever.from_defaults(
        nodes=nodes, stemmer=Stemmer.Stemmer("english"), language="en", similarity_top_k=len(nodes)
    )
    # The retriever keeps the corpus beside the bm25s object; attach it the way bm25s.BM25.load does,
    # so retrievers created from existing_bm25 can map result indexes back to nodes.
    retriever.bm25.corpus = retriever.corpus
    return OrgBM25(retriever=retriever, metadata=[dict(n.metadata) for n in nodes])


class BM25Cache:
    """Process-local cache of per-org BM25 indexes keyed by (collection, content version); an optimisation only."""

    def __init__(self, max_orgs: int = 64) -> None:
        self._max = max_orgs
        self._entries: OrderedDict[str, tuple[str, OrgBM25 | None]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, version: str, load: Callable[[], list[BaseNode]]) -> OrgBM25 | None:
        """The index for key at version, building it from load() when missing or stale."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] == version:
                self._entries.move_to_end(key)
                return entry[1]
        built = build_org_bm25(load())
        self.put(key, version, built)
        return built

    def put(self, key: str, version: str, index: OrgBM25 | None) -> None:
        """Store an index built for version (e.g. right after an ingest)."""
        with self._lock:
            self._entries[key] = (version, index)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def forget(self, key: str) -> None:
        """Drop the cached index of one collection."""
        with self._lock:
            self._entries.pop(key, None)
