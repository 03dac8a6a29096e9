"""The persisted lexical index: writers of one org's index swap whole folders, so concurrent saves (a background
rebuild beside an ingest, or two processes) never fail and a reader finds a complete index at its version."""

from __future__ import annotations

import threading
from pathlib import Path

from knowledge.lexical import LexicalStore, build_index


def test_concurrent_saves_of_one_index_all_succeed_and_leave_one_complete_folder(tmp_path: Path) -> None:
    writers = [LexicalStore(tmp_path), LexicalStore(tmp_path)]  # two stores: as two processes sharing the folder
    texts = ["disk full on the database volume", "checkout returns 5xx after a deploy"]
    indexes = [build_index(f"v{n}", ["a", "b"], texts, [{}, {}], writers[0].analyzer) for n in range(8)]
    errors: list[BaseException] = []
    start = threading.Barrier(16)

    def save(n: int) -> None:
        start.wait()
        try:
            for _ in range(5):
                writers[n % 2].save("org-1", indexes[n % 8])
        except BaseException as exc:  # noqa: BLE001 — collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=save, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [p.name for p in tmp_path.iterdir()] == ["org-1"]  # no temporary or old folder left behind
    version = LexicalStore(tmp_path)._load("org-1").version  # noqa: SLF001 — what a fresh process would read
    assert version in {f"v{n}" for n in range(8)}
    assert LexicalStore(tmp_path).get("org-1", version) is not None
