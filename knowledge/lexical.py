"""Per-org BM25 (bm25s) built when an org's content changes, saved to disk and loaded on a cache miss.

A search never builds an index: it uses the cached index, or loads the saved one (a few ms), or, when
the saved one is missing or stale (another host ingested through a shared Chroma server), runs without
the lexical side while a background thread rebuilds it from Chroma.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import shutil
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bm25s
import numpy as np
import Stemmer

from knowledge.embeddings import tokenize

log = logging.getLogger(__name__)
_FILTER_KEYS = ("project", "service", "kind", "doc_key")
_SWAP_ATTEMPTS = 5  # an index folder swapped into place while other writers swap theirs


class Analyzer:
    """Text → stemmed tokens (CamelCase split, stop words dropped); the same for documents and queries."""

    def __init__(self) -> None:
        self._stemmer = Stemmer.Stemmer("english")
        self._lock = threading.Lock()

    def tokens(self, text: str) -> list[str]:
        """Stemmed tokens of text."""
        words = tokenize(text)
        with self._lock:  # PyStemmer objects are not thread-safe
            return list(self._stemmer.stemWords(words)) if words else []


@dataclass
class LexicalIndex:
    """One org's BM25 index at one content version: node ids, filterable metadata, the bm25s model."""

    version: str
    ids: list[str]
    meta: list[dict[str, Any]]
    model: bm25s.BM25 | None

    @property
    def nbytes(self) -> int:
        """Approximate memory held: the BM25 arrays plus ids and filter metadata."""
        arrays = 0
        if self.model is not None:
            arrays = sum(int(getattr(a, "nbytes", 0)) for a in self.model.scores.values())
            arrays += 64 * len(self.model.vocab_dict)
        return arrays + 160 * len(self.ids)

    def top(self, tokens: Sequence[str], n: int, allowed: Callable[[dict[str, Any]], bool] | None) -> list[tuple[str, float]]:
        """(node id, score) of the n best nodes with a positive score that pass the filter."""
        if self.model is None or not tokens:
            return []
        known = [t for t in tokens if t in self.model.vocab_dict]
        if not known:
            return []
        scores = np.asarray(self.model.get_scores(known))
        if allowed is not None:
            scores = scores * np.array([1.0 if allowed(m) else 0.0 for m in self.meta], dtype=scores.dtype)
        positive = int(np.count_nonzero(scores > 0))
        if positive == 0:
            return []
        take = min(n, positive)
        best = np.argpartition(-scores, take - 1)[:take]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(self.ids[i], float(scores[i])) for i in best]


def build_index(version: str, ids: list[str], texts: list[str], meta: list[dict[str, Any]], analyzer: Analyzer) -> LexicalIndex:
    """A BM25 index over texts (one per node id)."""
    corpus = [analyzer.tokens(t) or ["\x00"] for t in texts]
    model: bm25s.BM25 | None = None
    if corpus:
        model = bm25s.BM25()
        model.index(corpus, show_progress=False)
    return LexicalIndex(version=version, ids=ids, meta=meta, model=model)


class LexicalStore:
    """Saved per-org indexes under root/<key>/, an LRU of loaded ones bounded in bytes, background rebuilds.

    Loaded indexes are read into memory, not memory-mapped: a mapping keeps a file descriptor open per
    array, and open files must stay bounded however many orgs are searched."""

    def __init__(self, root: Path, *, max_bytes: int = 128 << 20) -> None:
        self._root = Path(root)
        self._max_bytes = max_bytes
        self._bytes = 0
        self._loaded: OrderedDict[str, LexicalIndex] = OrderedDict()
        self._lock = threading.Lock()
        self._building: set[str] = set()
        self._saving: dict[str, threading.Lock] = {}  # key -> the lock its writers swap the folder under
        self.analyzer = Analyzer()

    def _dir(self, key: str) -> Path:
        return self._root / key

    def save(self, key: str, index: LexicalIndex) -> None:
        """Write the index (atomically: a fresh folder renamed into place) and keep it loaded."""
        target = self._dir(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.parent / f".{key}.{uuid.uuid4().hex}"
        tmp.mkdir()
        if index.model is not None:
            index.model.save(str(tmp / "bm25"), show_progress=False)
        (tmp / "nodes.json").write_text(
            json.dumps({"version": index.version, "ids": index.ids, "meta": index.meta}), encoding="utf-8"
        )
        with self._lock:
            saving = self._saving.setdefault(key, threading.Lock())
        olds = []
        with saving:  # one writer per key in this process; another process may still swap it meanwhile
            for attempt in range(_SWAP_ATTEMPTS):
                old = target.parent / f".{key}.old.{uuid.uuid4().hex}"
                with contextlib.suppress(FileNotFoundError):  # nothing there yet, or another writer moved it aside
                    target.rename(old)
                    olds.append(old)
                try:
                    tmp.rename(target)
                    break
                except OSError as exc:  # another process put its copy in place between the two renames
                    if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST) or attempt == _SWAP_ATTEMPTS - 1:
                        raise
        for old in olds:
            shutil.rmtree(old, ignore_errors=True)
        self._remember(key, index)  # readers check the version, so the last writer winning is safe either way

    def get(self, key: str, version: str) -> LexicalIndex | None:
        """The index of key at version: from memory, else from disk (memory-mapped); None when absent/stale."""
        with self._lock:
            cached = self._loaded.get(key)
            if cached is not None and cached.version == version:
                self._loaded.move_to_end(key)
                return cached
        loaded = self._load(key)
        if loaded is None or loaded.version != version:
            return None
        self._remember(key, loaded)
        return loaded

    def _load(self, key: str) -> LexicalIndex | None:
        folder = self._dir(key)
        try:
            nodes = json.loads((folder / "nodes.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        model = None
        if (folder / "bm25").is_dir():
            try:
                model = bm25s.BM25.load(str(folder / "bm25"), mmap=False, show_progress=False)
            except (OSError, ValueError) as exc:
                log.warning("lexical index %s unreadable (%s); it will be rebuilt", key, exc)
                return None
        return LexicalIndex(version=str(nodes["version"]), ids=list(nodes["ids"]), meta=list(nodes["meta"]), model=model)

    def _remember(self, key: str, index: LexicalIndex) -> None:
        with self._lock:
            old = self._loaded.pop(key, None)
            self._bytes -= old.nbytes if old is not None else 0
            self._loaded[key] = index
            self._bytes += index.nbytes
            while self._bytes > self._max_bytes and len(self._loaded) > 1:
                _, evicted = self._loaded.popitem(last=False)
                self._bytes -= evicted.nbytes

    @property
    def loaded(self) -> tuple[int, int]:
        """(indexes in memory, approximate bytes they hold)."""
        with self._lock:
            return len(self._loaded), self._bytes

    def rebuild_later(self, key: str, build: Callable[[], LexicalIndex | None]) -> bool:
        """Rebuild key's index in a background thread (once at a time per key); False if one is running."""
        with self._lock:
            if key in self._building:
                return False
            self._building.add(key)

        def run() -> None:
            try:
                index = build()
                if index is not None:
                    self.save(key, index)
            except Exception:  # noqa: BLE001 - a failed rebuild is retried by the next search
                log.exception("rebuilding the lexical index %s failed", key)
            finally:
                with self._lock:
                    self._building.discard(key)

        threading.Thread(target=run, name=f"lexical-{key[:24]}", daemon=True).start()
        return True

    def forget(self, key: str) -> None:
        """Drop the index of key from memory and disk."""
        with self._lock:
            old = self._loaded.pop(key, None)
            self._bytes -= old.nbytes if old is not None else 0
        shutil.rmtree(self._dir(key), ignore_errors=True)


def filter_meta(metadata: dict[str, Any]) -> dict[str, Any]:
    """The part of a node's metadata the lexical side needs to apply project/service filters."""
    kept = {k: metadata.get(k, "") for k in _FILTER_KEYS}
    kept.update({k: v for k, v in metadata.items() if k.startswith("svc_")})
    return kept
