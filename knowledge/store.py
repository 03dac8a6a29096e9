"""Chroma storage partitioned per org: one collection per org, a content version, and the doc manifest."""

from __future__ import annotations

import hashlib
import re
import threading
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import chromadb
from chromadb.api import ClientAPI
from chromadb.api.client import Client as ChromaClient
from chromadb.api.models.Collection import Collection
from chromadb.config import Settings
from chromadb.errors import NotFoundError
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.indices.utils import embed_nodes
from llama_index.core.schema import BaseNode, MetadataMode
from llama_index.core.vector_stores.utils import metadata_dict_to_node, node_to_metadata_dict
from llama_index.vector_stores.chroma import ChromaVectorStore

from knowledge.chroma_bounds import bound_collection_cache
from knowledge.embeddings import ChromaEmbeddingAdapter, embedder_id
from knowledge.models import KnowledgeError

VERSION_KEY = "kb_version"
EMBEDDER_KEY = "kb_embedder"
ORG_KEY = "kb_org"
REINDEX_KEY = "kb_reindex"
# Chroma writes an HNSW index to disk only every sync_threshold additions (1,000 by default) and cannot
# reopen an index it evicted from its cache before writing it ("Nothing found on disk"): with many small
# orgs, most indexes were never written. Writing after every add keeps eviction safe.
HNSW_SYNC = 1
REINDEX_SUFFIX = "-reindex"


def collection_name(org_id: str) -> str:
    """The org's collection: 'rr-<readable part>-<hash>' (valid Chroma name, unique per org id)."""
    if not org_id:
        raise KnowledgeError("an org id is required")
    readable = re.sub(r"[^a-zA-Z0-9]+", "-", org_id).strip("-")[:40] or "org"
    digest = hashlib.sha256(org_id.encode("utf-8")).hexdigest()[:16]
    return f"rr-{readable}-{digest}"


def make_client(data_dir: Path, chroma_url: str | None, *, max_open_collections: int = 100) -> ClientAPI:
    """A Chroma client: HTTP when a URL is given, else an embedded persistent store under data_dir whose
    open collections (files and memory) are bounded by max_open_collections."""
    settings = Settings(anonymized_telemetry=False)
    if chroma_url:
        url = urlparse(chroma_url if "://" in chroma_url else f"http://{chroma_url}")
        ssl = url.scheme == "https"
        port = url.port or (443 if ssl else 8000)
        return chromadb.HttpClient(host=url.hostname or "localhost", port=port, ssl=ssl, settings=settings)
    path = Path(data_dir) / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    client = chromadb.PersistentClient(path=str(path), settings=settings)
    bound_collection_cache(client, max_open_collections)
    return client


class ChromaStore:
    """Per-org Chroma collections; every read and write names its org, and orgs never share a collection."""

    def __init__(
        self, *, data_dir: Path, chroma_url: str | None, embedder: BaseEmbedding, max_open_collections: int = 100
    ) -> None:
        self._data_dir = Path(data_dir)
        self._chroma_url = chroma_url
        self._max_open = max_open_collections
        self._embedder = embedder
        self._embedder_id = embedder_id(embedder)
        self._function = ChromaEmbeddingAdapter(embedder)
        self._client: ClientAPI | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> ClientAPI:
        """The Chroma client, created on first use."""
        with self._lock:
            if self._client is None:
                self._client = make_client(self._data_dir, self._chroma_url, max_open_collections=self._max_open)
            return self._client

    def close(self) -> None:
        """Release the Chroma client: an embedded store's Rust runtime (its tokio and sqlx threads, open files)
        stops once the last client of its path closes. Chroma keeps every embedded store open for the life of
        the process otherwise (its systems are cached by path), whether or not the client is still referenced.
        Idempotent; the next use opens a new client."""
        with self._lock:
            client, self._client = self._client, None
        if isinstance(client, ChromaClient):  # what PersistentClient and HttpClient return; ClientAPI has no close
            client.close()

    @property
    def embedder_id(self) -> str:
        """The identity of this process's embedder, as recorded on the collections it writes."""
        return self._embedder_id

    def _get(self, name: str) -> Collection | None:
        try:
            return self.client.get_collection(name, embedding_function=self._function)  # type: ignore[arg-type]
        except (NotFoundError, ValueError) as exc:
            if isinstance(exc, NotFoundError) or "does not exist" in str(exc):
                return None
            raise

    def _create(self, name: str, org_id: str, **extra: str) -> Collection:
        return self.client.get_or_create_collection(
            name,
            embedding_function=self._function,  # type: ignore[arg-type]
            configuration={"hnsw": {"space": "cosine", "batch_size": HNSW_SYNC, "sync_threshold": HNSW_SYNC}},
            metadata={VERSION_KEY: uuid.uuid4().hex, EMBEDDER_KEY: self._embedder_id, ORG_KEY: org_id, **extra},
        )

    def collection(self, org_id: str, *, create: bool = False, any_embedder: bool = False) -> Collection | None:
        """The org's collection (fresh metadata); None when the org has none and create is False."""
        name = collection_name(org_id)
        col = self._get(name) or self._finish_reindex(org_id)
        if col is None:
            if not create:
                return None
            col = self._create(name, org_id)
        self._check(col, org_id, any_embedder=any_embedder)
        self._persist_often(col)
        return col

    @staticmethod
    def _persist_often(col: Collection) -> None:
        """Lower the sync threshold of a collection created before HNSW_SYNC (its next write persists it)."""
        # The raw stored JSON: `col.configuration` would rebuild our embedding function from Chroma's registry,
        # which does not know it in a process that has not created it.
        raw = getattr(getattr(col, "_model", None), "configuration_json", None) or {}
        hnsw = raw.get("hnsw") or {} if isinstance(raw, dict) else {}
        if int(hnsw.get("sync_threshold") or HNSW_SYNC) > HNSW_SYNC:
            col.modify(configuration={"hnsw": {"sync_threshold": HNSW_SYNC}})

    def _check(self, col: Collection, org_id: str, *, any_embedder: bool = False) -> None:
        meta = col.metadata or {}
        if meta.get(ORG_KEY) not in (None, org_id):
            raise KnowledgeError(f"collection {col.name} belongs to another org")
        stored = meta.get(EMBEDDER_KEY)
        if stored and stored != self._embedder_id and not any_embedder:
            raise KnowledgeError(
                f"org {org_id}'s knowledge was indexed with embedder {stored}, but this process uses "
                f"{self._embedder_id} (REVENANT_EMBEDDINGS); vectors of two models cannot be compared. Run "
                f"`revenant knowledge reindex --org {org_id}` to re-embed it with {self._embedder_id}, or set "
                "REVENANT_EMBEDDINGS back to the model it was indexed with"
            )

    def start_reindex(self, org_id: str) -> Collection:
        """A fresh, empty staging collection for re-embedding the org (any earlier unfinished one is dropped)."""
        staging = collection_name(org_id) + REINDEX_SUFFIX
        if self._get(staging) is not None:
            self.client.delete_collection(staging)
        return self._create(staging, org_id, **{REINDEX_KEY: "building"})

    def finish_reindex(self, org_id: str, staging: Collection) -> Collection:
        """Mark the staging collection complete, drop the old one and give the staging one its name."""
        meta = dict(staging.metadata or {})
        meta[REINDEX_KEY] = "complete"
        staging.modify(metadata=meta)
        return self._finish_reindex(org_id) or staging

    def _finish_reindex(self, org_id: str) -> Collection | None:
        """Complete an interrupted swap: a complete staging collection replaces the org's collection."""
        name = collection_name(org_id)
        staging = self._get(name + REINDEX_SUFFIX)
        if staging is None or (staging.metadata or {}).get(REINDEX_KEY) != "complete":
            return None
        if self._get(name) is not None:
            self.client.delete_collection(name)
        staging.modify(name=name)
        meta = dict(staging.metadata or {})
        meta[REINDEX_KEY] = ""
        meta[VERSION_KEY] = uuid.uuid4().hex
        staging.modify(metadata=meta)
        return self._get(name)

    @staticmethod
    def version(col: Collection) -> str:
        """The content version: changes whenever the org's documents change (any process)."""
        return str((col.metadata or {}).get(VERSION_KEY, ""))

    def bump_version(self, col: Collection) -> None:
        """Record that the org's content changed, so every process rebuilds its BM25 index."""
        meta = dict(col.metadata or {})
        meta[VERSION_KEY] = uuid.uuid4().hex
        meta[EMBEDDER_KEY] = self._embedder_id
        col.modify(metadata=meta)

    @staticmethod
    def vector_store(col: Collection) -> ChromaVectorStore:
        """A LlamaIndex vector store over the org's collection."""
        return ChromaVectorStore(chroma_collection=col)

    @staticmethod
    def manifest(col: Collection, where: dict[str, Any]) -> dict[str, str]:
        """doc_key -> content hash of the documents matching where (one entry per document)."""
        result = col.get(where=where, include=["metadatas"])
        return {key: hashed for key, (_path, hashed) in ChromaStore._by_document(result).items()}

    @staticmethod
    def documents(col: Collection, where: dict[str, Any]) -> dict[str, tuple[str, str]]:
        """doc_key -> (path, content hash) of the documents matching where."""
        result = col.get(where=where, include=["metadatas"])
        return ChromaStore._by_document(result)

    @staticmethod
    def _by_document(result: Any) -> dict[str, tuple[str, str]]:
        """doc_key -> (path, content hash) from chunk metadata. Chunks of one document that disagree on the hash
        (an ingest stopped between writing the new sections and deleting the old ones) give the hash "", so the
        next ingest rewrites the document and finishes the cleanup."""
        found: dict[str, tuple[str, str]] = {}
        for meta in result.get("metadatas") or []:
            if not meta:
                continue
            key, entry = str(meta.get("doc_key")), (str(meta.get("path", "")), str(meta.get("content_hash", "")))
            seen = found.setdefault(key, entry)
            if seen[1] != entry[1]:
                found[key] = (seen[0], "")
        return found

    def delete_documents(self, col: Collection, doc_keys: Iterable[str]) -> None:
        """Remove every chunk of the given documents."""
        store = self.vector_store(col)
        for key in doc_keys:
            store.delete(ref_doc_id=key)

    @staticmethod
    def chunk_ids(col: Collection, doc_keys: Iterable[str]) -> list[str]:
        """Ids of every chunk the given documents have now."""
        keys = list(doc_keys)
        if not keys:
            return []
        # chromadb's Where is a union of dicts with literal operator keys that mypy cannot pick for a literal
        found = col.get(where={"document_id": {"$in": keys}}, include=[])  # type: ignore[dict-item]
        return list(found.get("ids") or [])

    def upsert_nodes(self, col: Collection, nodes: Sequence[BaseNode], embedder: BaseEmbedding) -> None:
        """Embed nodes and write them, replacing any chunk with the same id in place.

        A re-ingested document's sections keep their ids, so an upsert swaps each one atomically and a
        concurrent search sees the old or the new section, never neither (issue 13)."""
        step = min(self.max_batch(), 2048)
        for start in range(0, len(nodes), step):
            part = nodes[start : start + step]
            vectors = embed_nodes(part, embedder)
            col.upsert(
                ids=[n.node_id for n in part],
                embeddings=[vectors[n.node_id] for n in part],  # type: ignore[arg-type]
                metadatas=[_chroma_metadata(n) for n in part],
                documents=[n.get_content(metadata_mode=MetadataMode.NONE) for n in part],
            )

    @staticmethod
    def delete_ids(col: Collection, ids: Sequence[str]) -> None:
        """Remove the given chunks."""
        if ids:
            col.delete(ids=list(ids))

    @staticmethod
    def nodes(col: Collection, page: int = 5000) -> list[BaseNode]:
        """Every node of the org's collection, read back from Chroma (documents + metadata), page by page."""
        nodes: list[BaseNode] = []
        for offset in range(0, col.count(), page):
            batch = col.get(limit=page, offset=offset, include=["documents", "metadatas"])
            for text, meta in zip(batch["documents"] or [], batch["metadatas"] or [], strict=True):
                nodes.append(metadata_dict_to_node(dict(meta or {}), text=text))
        return nodes

    def delete_org(self, org_id: str) -> bool:
        """Drop the org's collection; True when there was one."""
        try:
            self.client.delete_collection(collection_name(org_id))
        except (NotFoundError, ValueError):
            return False
        return True

    def max_batch(self) -> int:
        """The largest add() batch the server accepts."""
        return int(self.client.get_max_batch_size())


def _chroma_metadata(node: BaseNode) -> dict[str, Any]:
    """A node's metadata as LlamaIndex's Chroma store writes it (flat, the node itself serialised, no None)."""
    meta = node_to_metadata_dict(node, remove_text=True, flat_metadata=True)
    return {key: "" if value is None else value for key, value in meta.items()}
