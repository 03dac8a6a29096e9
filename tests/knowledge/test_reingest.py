"""A document being re-ingested never disappears from search: new sections are written before old ones go.

A second thread searches after every write the ingest makes to Chroma (the writer waits for that search), so
each intermediate state of the collection is searched once, deterministically, from another thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from chromadb.api.models.Collection import Collection

from knowledge.kb import KnowledgeBase
from tests.knowledge.conftest import write

ORG = "org-reingest"
QUERY = "rabbitmq queue backlog consumers stalled"


def _runbook(version: int, sections: int) -> str:
    parts = [f"# RabbitMQ queue backlog\n\nConsumers stalled and the queue backlog grows (revision {version}).\n"]
    for i in range(sections):
        parts.append(f"## Step {i}\n\nCheck consumer {i} of the rabbitmq queue; revision {version}.\n")
    return "\n".join(parts)


class _SearchAfterEachWrite:
    """Patches Collection writes so that after each one a searcher thread runs one search (and the writer
    waits for it); records what every such search returned."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self.results: list[tuple[str, list[str]]] = []
        self._want = threading.Event()
        self._done = threading.Event()
        self._stop = False
        self._label = ""
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while True:
            self._want.wait()
            self._want.clear()
            if self._stop:
                self._done.set()
                return
            hits = self.kb.search(ORG, QUERY, k=3)
            self.results.append((self._label, [h.path for h in hits]))
            self._done.set()

    def after(self, label: str) -> None:
        """Called by the writer after a write: one search from the other thread, waited for."""
        self._label = label
        self._done.clear()
        self._want.set()
        assert self._done.wait(30), "the searcher thread did not answer"

    def wrap(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for name in ("add", "upsert", "delete", "update"):
            original: Callable[..., object] = getattr(Collection, name)

            def patched(col: Collection, *args: object, _original: Callable[..., object] = original,
                        _name: str = name, **kwargs: object) -> object:
                out = _original(col, *args, **kwargs)
                self.after(_name)
                return out

            monkeypatch.setattr(Collection, name, patched)

    def __enter__(self) -> _SearchAfterEachWrite:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop = True
        self._want.set()
        self._thread.join(10)


@pytest.fixture
def tree(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "runbooks"
    write(root, "rabbitmq.md", _runbook(1, 6))
    write(root, "disk.md", "# Disk full\n\nRun `df -h` to find the volume that ran out of space.\n")
    write(root, "dns.md", "# DNS failures\n\nPods cannot resolve names; coredns is overloaded.\n")
    yield root


@pytest.mark.parametrize("sections_after", [6, 2, 9], ids=["same-sections", "fewer-sections", "more-sections"])
def test_reingest_is_never_invisible_to_a_concurrent_search(
    kb: KnowledgeBase, tree: Path, monkeypatch: pytest.MonkeyPatch, sections_after: int
) -> None:
    kb.ingest(tree, ORG)
    assert kb.search(ORG, QUERY, k=3)[0].path == "rabbitmq.md"
    write(tree, "rabbitmq.md", _runbook(2, sections_after))
    with _SearchAfterEachWrite(kb) as probe:
        probe.wrap(monkeypatch)
        report = kb.ingest(tree, ORG)
    monkeypatch.undo()
    assert report.updated == 1
    writes = [label for label, _ in probe.results]
    assert any(w in ("add", "upsert") for w in writes), writes  # the searches did interleave with the writes
    missing = [(label, paths) for label, paths in probe.results if "rabbitmq.md" not in paths]
    assert not missing, f"a search during the re-ingest did not find the runbook: {missing}"
    sections = {h.source for h in kb.search(ORG, QUERY + " step consumer", k=20, per_document=0)}
    expected = {f"rabbitmq.md#step-{i}" for i in range(sections_after)}
    assert expected <= sections and not {s for s in sections if s.startswith("rabbitmq.md#step-")} - expected
    assert all("revision 2" in h.text for h in kb.search(ORG, QUERY, k=10, per_document=0) if h.path == "rabbitmq.md")


def test_reindexing_a_loop_document_is_never_invisible(kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch) -> None:
    kb.index_document(ORG, "INC-7", "RabbitMQ queue backlog", _runbook(1, 4), kind="incident")
    with _SearchAfterEachWrite(kb) as probe:
        probe.wrap(monkeypatch)
        assert kb.index_document(ORG, "INC-7", "RabbitMQ queue backlog", _runbook(2, 1), kind="incident") == 2
    monkeypatch.undo()
    assert probe.results and all("INC-7" in paths for _, paths in probe.results), probe.results
    texts = [h.text for h in kb.search(ORG, QUERY, k=10, per_document=0) if h.path == "INC-7"]
    assert len(texts) == 2 and all("revision 2" in t for t in texts)


def test_an_ingest_stopped_before_its_cleanup_is_finished_by_the_next_one(
    kb: KnowledgeBase, tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from knowledge.store import ChromaStore

    kb.ingest(tree, ORG)
    write(tree, "rabbitmq.md", _runbook(2, 2))

    def crash(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("process killed")

    monkeypatch.setattr(ChromaStore, "delete_ids", staticmethod(crash))
    with pytest.raises(RuntimeError):
        kb.ingest(tree, ORG)
    monkeypatch.undo()
    report = kb.ingest(tree, ORG)
    assert report.updated == 1  # the half-replaced document is not taken as unchanged
    sources = {h.source for h in kb.search(ORG, QUERY + " step consumer", k=20, per_document=0)}
    assert {s for s in sources if s.startswith("rabbitmq.md#step-")} == {"rabbitmq.md#step-0", "rabbitmq.md#step-1"}


def test_a_free_running_searcher_never_misses_a_document_being_reingested(
        open_kb: Callable[..., KnowledgeBase], tmp_path: Path) -> None:
    from knowledge.embeddings import HashingEmbedding

    root = tmp_path / "runbooks"
    write(root, "rabbitmq.md", _runbook(1, 150))
    write(root, "disk.md", "# Disk full\n\nRun `df -h` to find the volume that ran out of space.\n")
    kb = open_kb(data_dir=tmp_path / "data", embedder=HashingEmbedding())
    kb.ingest(root, ORG)
    stop = threading.Event()
    seen: list[bool] = []

    def search_until_stopped() -> None:
        while not stop.is_set():
            seen.append("rabbitmq.md" in [h.path for h in kb.search(ORG, QUERY, k=3)])

    searcher = threading.Thread(target=search_until_stopped)
    searcher.start()
    try:
        for version, sections in ((2, 150), (3, 90), (4, 160)):
            write(root, "rabbitmq.md", _runbook(version, sections))
            assert kb.ingest(root, ORG).updated == 1
    finally:
        stop.set()
        searcher.join(30)
    assert seen and all(seen), f"{seen.count(False)} of {len(seen)} searches missed the runbook"
