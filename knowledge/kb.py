"""KnowledgeBase: the facade the composition root builds from plain values."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding

from incident_core.knowledge_sources import SyncReport
from knowledge.evaluation import load_queries, score
from knowledge.ingest import Ingestor, Progress
from knowledge.lexical import LexicalStore
from knowledge.models import EvalReport, Hit, IngestReport
from knowledge.query import build_search_text
from knowledge.retrieval import FusionParams, HybridSearcher
from knowledge.store import ChromaStore, collection_name

Query = str | dict[str, Any]


class KnowledgeBase:
    """Per-org runbook and postmortem knowledge: ingest, index, hybrid search, evaluate, delete."""

    def __init__(
        self,
        *,
        data_dir: Path,
        chroma_url: str | None = None,
        embedder: BaseEmbedding | None = None,
        retrieval: str = "hybrid",
        fusion: FusionParams | None = None,
        max_open_collections: int = 100,
        lexical_cache_mb: int = 128,
    ) -> None:
        if embedder is None:
            from knowledge.embedder_onnx import OnnxMiniLMEmbedding

            embedder = OnnxMiniLMEmbedding()
        self.embedder: BaseEmbedding = embedder
        self._store = ChromaStore(data_dir=Path(data_dir), chroma_url=chroma_url, embedder=self.embedder,
                                  max_open_collections=max_open_collections)
        self._lexical = LexicalStore(Path(data_dir) / "lexical", max_bytes=lexical_cache_mb << 20)
        self._ingestor = Ingestor(self._store, self.embedder)
        self._searcher = HybridSearcher(self._store, self.embedder, self._lexical, mode=retrieval, params=fusion)

    def connect(self) -> None:
        """Open the Chroma client now (it is otherwise opened by the first search or ingest)."""
        _ = self._store.client

    def close(self) -> None:
        """Close the Chroma client (its threads and files); a later call opens it again."""
        self._store.close()

    def __enter__(self) -> KnowledgeBase:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def holds_documents(self, org_id: str) -> bool:
        """True when this store has anything indexed for the org."""
        col = self._store.collection(org_id)
        return col is not None and col.count() > 0

    def ping(self) -> None:
        """Ask the Chroma store for a heartbeat (readiness); raises when it does not answer."""
        self._store.client.heartbeat()

    def ingest(
        self, path: Path | str, org_id: str, project: str | None = None, progress: Progress | None = None
    ) -> IngestReport:
        """Ingest Markdown runbooks/postmortems under path (recursive, incremental by content hash)."""
        report = self._ingestor.ingest_tree(Path(path), org_id, project=project, progress=progress)
        if report.added or report.updated or report.removed:
            self._refresh_lexical(org_id)
        return report

    def index_document(
        self,
        org_id: str,
        doc_id: str,
        title: str,
        markdown: str,
        kind: str = "postmortem",
        project: str | None = None,
        service: str | None = None,
    ) -> int:
        """Index one resolved incident or published postmortem (re-indexing replaces it); sections written."""
        written = self._ingestor.index_document(
            org_id, doc_id, title, markdown, kind=kind, project=project, service=service
        )
        if written:
            self._refresh_lexical(org_id)
        return written

    def embedder_of(self, org_id: str) -> str | None:
        """The embedder the org's knowledge was indexed with (None when it has none)."""
        col = self._store.collection(org_id, any_embedder=True)
        return None if col is None else str((col.metadata or {}).get("kb_embedder") or "") or None

    @property
    def relevance_floor(self) -> float | None:
        """Cosine similarity above which this embedder's best match is relevant on its own (None: uncalibrated)."""
        floor = getattr(self.embedder, "relevance_floor", None)
        return float(floor) if floor is not None else None

    @property
    def embedder_id(self) -> str:
        """This knowledge base's embedder identity."""
        return self._store.embedder_id

    def reindex(self, org_id: str, progress: Progress | None = None) -> int:
        """Re-embed all of the org's sections with this knowledge base's embedder; sections written."""
        count = self._ingestor.reindex(org_id, progress=progress)
        self._refresh_lexical(org_id)
        return count

    def sync_snapshot(self, org_id: str, root: str, snapshot: Any, *, project: str | None = None) -> SyncReport:
        """Sync the org's documents under root to a source snapshot (knowledge/sources.py); what changed."""
        counts = self._ingestor.sync_files(org_id, root, snapshot.files, snapshot.read, snapshot.link,
                                           project=project)
        if counts["added"] or counts["updated"] or counts["removed"] or counts["renamed"]:
            self._refresh_lexical(org_id)
        return SyncReport(commit=snapshot.commit, added=counts["added"], updated=counts["updated"],
                          removed=counts["removed"], renamed=counts["renamed"], unchanged=counts.get("unchanged", 0))

    def remove_root(self, org_id: str, root: str, *, project: str | None = None) -> int:
        """Delete the org's documents under root (a removed source); how many."""
        removed = self._ingestor.remove_root(org_id, root, project=project)
        if removed:
            self._refresh_lexical(org_id)
        return removed

    def _refresh_lexical(self, org_id: str) -> None:
        col = self._store.collection(org_id)
        if col is not None:
            self._searcher.refresh_lexical(col)

    def search(
        self,
        org_id: str,
        query: Query,
        *,
        k: int = 5,
        project: str | None = None,
        service: str | None = None,
        per_document: int = 1,
    ) -> list[Hit]:
        """Best-first hits for free text, a log excerpt or an alert payload (dict or JSON text)."""
        return self.search_batch(org_id, [query], k, project=project, service=service, per_document=per_document)[0]

    def search_batch(
        self,
        org_id: str,
        items: Sequence[Query],
        k: int = 5,
        *,
        project: str | None = None,
        service: str | None = None,
        per_document: int = 1,
    ) -> list[list[Hit]]:
        """search() for many queries at once, sharing the org's retrievers; one hit list per item."""
        texts = [build_search_text(item) for item in items]
        found = self._searcher.search(org_id, texts, k=k, project=project, service=service, per_document=per_document)
        floor = self.relevance_floor
        if floor is None:
            return found
        return [[replace(h, relevant=h.similarity is not None and h.similarity >= floor) for h in hits] for hits in found]

    def evaluate(
        self, org_id: str, queries_jsonl_path: Path | str, k_values: Sequence[int] = (1, 3, 5)
    ) -> EvalReport:
        """recall@k and MRR of this org's knowledge over a labelled JSONL query set."""
        queries = load_queries(Path(queries_jsonl_path))
        results = self.search_batch(org_id, [q.query for q in queries], max(k_values))
        return score(queries, results, k_values)

    def delete_org(self, org_id: str) -> bool:
        """Forget everything indexed for the org; True when it had knowledge."""
        self._lexical.forget(collection_name(org_id))
        return self._store.delete_org(org_id)
