"""Run in a subprocess by test_many_orgs: N orgs searched twice under a low open-file limit.

    python -m tests.knowledge.many_orgs_worker DATA_DIR ORGS FILE_LIMIT [--stock-cache]

Prints one JSON object: searches, failures (with the first error), wrong answers, open files at the end.
"""

from __future__ import annotations

import json
import os
import resource
import sys
from pathlib import Path


def main() -> None:
    """Ingest one small runbook per org, then search every org in two rounds."""
    data_dir, orgs, limit = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
    import knowledge.chroma_bounds as bounds
    from knowledge.embeddings import HashingEmbedding
    from knowledge.kb import KnowledgeBase

    if "--stock-cache" in sys.argv:  # Chroma's own sizing (limit ÷ 5), to show the failure it leads to
        bounds.bound_collection_cache = lambda client, n: 0  # type: ignore[assignment]
        import knowledge.store

        knowledge.store.bound_collection_cache = bounds.bound_collection_cache
    kb = KnowledgeBase(data_dir=data_dir, embedder=HashingEmbedding(dim=128))
    for n in range(orgs):
        text = f"Runbook of team {n}. Symptom: the quarkstream{n} relay drops frames; restart it."
        kb.index_document(f"org-{n}", "runbooks/relay.md", f"Relay {n}", text, kind="runbook")
    searches = failures = wrong = 0
    first_error = ""
    for _round in range(2):
        for n in range(orgs):
            searches += 1
            try:
                hits = kb.search(f"org-{n}", f"quarkstream{n} relay drops frames", k=3)
            except Exception as exc:  # noqa: BLE001 - counted and reported
                failures += 1
                first_error = first_error or f"{type(exc).__name__}: {exc}"[:300]
                continue
            if not hits or f"quarkstream{n} " not in hits[0].text or any(f"team {n}." not in h.text for h in hits):
                wrong += 1
    print(json.dumps({"searches": searches, "failures": failures, "wrong": wrong, "first_error": first_error,
                      "open_files": len(os.listdir("/proc/self/fd"))}))


if __name__ == "__main__":
    main()
