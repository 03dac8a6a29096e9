"""Embedded Chroma with a bounded collection cache: open files and memory set by configuration, not by orgs.

Chroma 1.x's embedded client (Rust bindings) keeps an LRU of open HNSW indexes sized from the process's
open-file limit (limit ÷ 5: four data files and a metadata file per index). It ignores the Python
`chroma_segment_cache_policy` / `chroma_memory_limit_bytes` settings, which only the legacy segment manager
reads. Sized from the limit, the cache plus everything else the process opens (SQLite, sockets, modules)
reaches the limit, and opening an index then fails ("Error creating hnsw segment reader: Nothing found on
disk") until the process restarts. bound_collection_cache restarts the bindings of a new client with a cache
of the configured size, at most half of what the limit allows.
"""

from __future__ import annotations

import logging
import resource

from chromadb.api import ClientAPI
from chromadb.api.rust import RustBindingsAPI

log = logging.getLogger(__name__)
FILES_PER_COLLECTION = 5


def cache_size(max_open_collections: int) -> int:
    """The HNSW cache size to use: the configured bound, never above half of the open-file limit's share."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    by_limit = (soft // FILES_PER_COLLECTION) // 2 if soft > 0 else max_open_collections
    return max(1, min(int(max_open_collections), by_limit))


def bound_collection_cache(client: ClientAPI, max_open_collections: int) -> int:
    """Apply the bound to an embedded client (before its first use); the cache size now in force."""
    server = getattr(client, "_server", None)  # Chroma exposes no public way to size this cache
    if not isinstance(server, RustBindingsAPI):
        return 0
    wanted = cache_size(max_open_collections)
    if server.hnsw_cache_size != wanted:
        server.stop()
        server.hnsw_cache_size = wanted
        server.start()
        log.info("chroma: at most %d collections open (%d files)", wanted, wanted * FILES_PER_COLLECTION)
    return int(server.hnsw_cache_size)
