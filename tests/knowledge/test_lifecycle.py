"""Closing a knowledge base releases its embedded Chroma store: the Rust runtime's threads end with it.

Chroma caches every embedded store by path for the life of the process; a client that is merely dropped
keeps its tokio and sqlx threads (six or more per store) until the process exits.
"""

from __future__ import annotations

import os
from pathlib import Path

from bot.bootstrap import App
from knowledge.embeddings import HashingEmbedding
from knowledge.kb import KnowledgeBase

ORG = "org-lifecycle"


CHROMA_THREADS = ("tokio-", "sqlx-")  # the names Chroma's Rust runtime gives its threads (/proc/<pid>/task/*/comm)


def native_threads() -> int:
    """This process's threads of Chroma's Rust runtime (threading.enumerate sees Python's only). Other threads
    (another test's server winding down in the same worker, onnxruntime's pool) are not counted."""
    count = 0
    for tid in os.listdir(f"/proc/{os.getpid()}/task"):
        try:
            name = Path(f"/proc/{os.getpid()}/task/{tid}/comm").read_text().strip()
        except (FileNotFoundError, ProcessLookupError):  # the thread ended while we looked
            continue
        count += name.startswith(CHROMA_THREADS)
    return count


def use(kb: KnowledgeBase) -> None:
    kb.index_document(ORG, "INC-1", "Disk full", "# INC-1\n\nThe volume ran out of space.", kind="incident")
    assert kb.search(ORG, "volume out of space", k=1)[0].source == "INC-1"


def test_opening_and_closing_a_knowledge_base_leaves_the_thread_count_flat(tmp_path: Path) -> None:
    counts = []
    for n in range(6):
        with KnowledgeBase(data_dir=tmp_path / f"kb-{n}", embedder=HashingEmbedding(dim=64)) as kb:
            use(kb)
            opened = native_threads()
        counts.append(native_threads())
        assert counts[-1] < opened  # closing ended the store's threads
    # Each store left open would add its runtime's threads (6+), 30+ over the five stores after the first. Another
    # store open in this worker (a fixture of another test) can grow or shrink its blocking pool meanwhile, a
    # few threads either way, so the bound sits well below a leak and above that noise.
    assert counts[-1] <= counts[0] + 8, counts


def test_a_closed_knowledge_base_opens_again_on_use(tmp_path: Path) -> None:
    kb = KnowledgeBase(data_dir=tmp_path / "kb", embedder=HashingEmbedding(dim=64))
    use(kb)
    kb.close()
    kb.close()  # idempotent
    assert kb.search(ORG, "volume out of space", k=1)[0].source == "INC-1"  # the same data, a new client
    kb.close()


def test_closing_the_app_closes_the_knowledge_base_it_built(sqlite_app: App) -> None:
    before = native_threads()
    sqlite_app.knowledge.connect()
    opened = native_threads()
    assert opened > before
    sqlite_app.close()
    # the store's own threads ended: at most half of what opening added may remain (another store's blocking
    # pool in this worker can add a thread or two meanwhile; a store left open keeps all of its own)
    assert native_threads() - before <= (opened - before) // 2, (before, opened, native_threads())
