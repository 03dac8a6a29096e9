"""Incremental ingestion: Markdown trees by content hash, and single documents from the knowledge loop."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from chromadb.api.models.Collection import Collection
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.schema import TextNode

from knowledge.chunks import KINDS, DocumentInfo, build_nodes, content_hash
from knowledge.markdown import parse_markdown
from knowledge.models import IngestReport, KnowledgeError
from knowledge.store import ChromaStore

Progress = Callable[[int, int, str], None]
MARKDOWN_SUFFIXES = (".md", ".markdown", ".mdx")
LOOP_ROOT = ""
_FLUSH_AT = 512


@dataclass
class _Batch:
    """Nodes waiting to be embedded and written, and the documents they replace."""

    nodes: list[TextNode]
    replaced: list[str]
    files: list[str]


class Ingestor:
    """Writes parsed documents into an org's collection through LlamaIndex's VectorStoreIndex."""

    def __init__(self, store: ChromaStore, embedder: BaseEmbedding) -> None:
        self._store = store
        self._embedder = embedder

    def ingest_tree(
        self, path: Path, org_id: str, *, project: str | None = None, progress: Progress | None = None
    ) -> IngestReport:
        """Ingest every Markdown file under path; unchanged files skipped, changed re-indexed, gone removed."""
        root, files = _markdown_files(Path(path))
        whole_tree = Path(path).is_dir()
        label = root.name
        col = self._store.collection(org_id, create=True)
        assert col is not None
        known = self._store.manifest(col, {"$and": [{"root": label}, {"project": project or ""}]})
        counts = {"added": 0, "updated": 0, "unchanged": 0, "removed": 0, "sections": 0}
        batch = _Batch([], [], [])
        seen: set[str] = set()
        done = 0
        for file in files:
            rel = file.relative_to(root).as_posix()
            data = file.read_bytes()
            info = DocumentInfo(path=rel, root=label, project=project or "", content_hash=content_hash(data))
            seen.add(info.doc_key)
            if known.get(info.doc_key) == info.content_hash:
                counts["unchanged"] += 1
                done += 1
                if progress:
                    progress(done, len(files), rel)
                continue
            counts["updated" if info.doc_key in known else "added"] += 1
            doc = parse_markdown(data.decode("utf-8", errors="replace"), default_title=file.stem)
            nodes = build_nodes(doc, info)
            counts["sections"] += len(nodes)
            batch.nodes.extend(nodes)
            batch.files.append(rel)
            if info.doc_key in known:
                batch.replaced.append(info.doc_key)
            if len(batch.nodes) >= _FLUSH_AT:
                done += self._flush(col, batch, progress, done, len(files))
                batch = _Batch([], [], [])
        done += self._flush(col, batch, progress, done, len(files))
        gone = [key for key in known if key not in seen] if whole_tree else []
        if gone:
            self._store.delete_documents(col, gone)
            self._store.bump_version(col)
        counts["removed"] = len(gone)
        return IngestReport(**counts)

    def sync_files(
        self, org_id: str, root: str, files: dict[str, str], read: Callable[[str], bytes],
        link: Callable[[str], str | None], *, project: str | None = None,
    ) -> dict[str, int]:
        """Make the org's documents under root match files (path → blob SHA): changed re-indexed, gone
        removed, a gone path whose blob reappears under a new path counted as renamed."""
        col = self._store.collection(org_id, create=True)
        assert col is not None
        known = self._store.documents(col, {"$and": [{"root": root}, {"project": project or ""}]})
        by_path = {path: (key, blob) for key, (path, blob) in known.items()}
        gone = {path: blob for path, (_key, blob) in by_path.items() if path not in files}
        counts = {"added": 0, "updated": 0, "unchanged": 0, "removed": 0, "renamed": 0}
        batch = _Batch([], [], [])
        for rel in sorted(files):
            blob = files[rel]
            old = by_path.get(rel)
            if old is not None and old[1] == blob:
                counts["unchanged"] += 1
                continue
            if old is not None:
                counts["updated"] += 1
                batch.replaced.append(old[0])
            elif blob in gone.values():
                counts["renamed"] += 1
                old_path = next(p for p, b in gone.items() if b == blob)
                del gone[old_path]
                batch.replaced.append(by_path[old_path][0])
            else:
                counts["added"] += 1
            info = DocumentInfo(path=rel, root=root, project=project or "", content_hash=blob, url=link(rel))
            doc = parse_markdown(read(rel).decode("utf-8", errors="replace"), default_title=PurePosixPath(rel).stem)
            batch.nodes.extend(build_nodes(doc, info))
            batch.files.append(rel)
            if len(batch.nodes) >= _FLUSH_AT:
                self._flush(col, batch, None, 0, 0)
                batch = _Batch([], [], [])
        self._flush(col, batch, None, 0, 0)
        leftover = [by_path[path][0] for path in gone]
        if leftover:
            self._store.delete_documents(col, leftover)
            self._store.bump_version(col)
        counts["removed"] = len(leftover)
        return counts

    def remove_root(self, org_id: str, root: str, *, project: str | None = None) -> int:
        """Delete every document the org has under root; how many."""
        col = self._store.collection(org_id)
        if col is None:
            return 0
        keys = list(self._store.documents(col, {"$and": [{"root": root}, {"project": project or ""}]}))
        if keys:
            self._store.delete_documents(col, keys)
            self._store.bump_version(col)
        return len(keys)

    def index_document(
        self, org_id: str, doc_id: str, title: str, markdown: str, *, kind: str = "postmortem",
        project: str | None = None, service: str | None = None,
    ) -> int:
        """Index (or re-index) one resolved incident or postmortem; returns the sections indexed."""
        if kind not in KINDS:
            raise KnowledgeError(f"unknown document kind {kind!r}: use one of {', '.join(KINDS)}")
        if not doc_id.strip():
            raise KnowledgeError("a document id is required")
        col = self._store.collection(org_id, create=True)
        assert col is not None
        info = DocumentInfo(
            path=doc_id, root=LOOP_ROOT, project=project or "", kind=kind, title=title or None,
            services=(service,) if service else (), content_hash=content_hash(f"{kind}\n{title}\n{service}\n{markdown}"),
        )
        known = self._store.manifest(col, {"doc_key": info.doc_key})
        if known.get(info.doc_key) == info.content_hash:
            return 0
        nodes = build_nodes(parse_markdown(markdown, default_title=title), info)
        self._flush(col, _Batch(nodes, [info.doc_key] if known else [], [doc_id]), None, 0, 1)
        return len(nodes)

    def reindex(self, org_id: str, progress: Progress | None = None) -> int:
        """Re-embed every section of the org with this embedder (a staging collection swapped in at the end)."""
        old = self._store.collection(org_id, any_embedder=True)
        if old is None:
            raise KnowledgeError(f"org {org_id} has no knowledge to reindex")
        nodes = self._store.nodes(old)
        staging = self._store.start_reindex(org_id)
        step = 256
        for start in range(0, len(nodes), step):
            self._store.upsert_nodes(staging, nodes[start : start + step], self._embedder)
            if progress:
                progress(min(start + step, len(nodes)), len(nodes), "sections")
        self._store.finish_reindex(org_id, staging)
        return len(nodes)

    def _flush(
        self, col: Collection, batch: _Batch, progress: Progress | None, done: int, total: int
    ) -> int:
        """Embed and write the batch, then delete what remains of the documents it replaces; bump the version."""
        if not batch.files:
            return 0
        # Write first, then drop what is left of the old versions: a search during a re-ingest never finds
        # the document missing (sections with the same id are replaced in place by the upsert).
        old_ids = self._store.chunk_ids(col, batch.replaced)
        self._store.upsert_nodes(col, batch.nodes, self._embedder)
        written = {node.node_id for node in batch.nodes}
        self._store.delete_ids(col, [i for i in old_ids if i not in written])
        self._store.bump_version(col)
        if progress:
            for offset, rel in enumerate(batch.files, start=1):
                progress(done + offset, total, rel)
        return len(batch.files)


def _markdown_files(path: Path) -> tuple[Path, list[Path]]:
    """(root, sorted Markdown files under it); a single file is its own tree rooted at its folder."""
    if not path.exists():
        raise KnowledgeError(f"no such file or directory: {path}")
    if path.is_file():
        if path.suffix.lower() not in MARKDOWN_SUFFIXES:
            raise KnowledgeError(f"not a Markdown file: {path}")
        return path.resolve().parent, [path.resolve()]
    root = path.resolve()
    files = [
        p for p in root.rglob("*")
        if p.is_file() and p.suffix.lower() in MARKDOWN_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    ]
    return root, sorted(files)
