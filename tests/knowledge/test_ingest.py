"""Incremental ingestion by content hash, and single documents from the knowledge loop."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from knowledge.kb import KnowledgeBase
from knowledge.models import IngestReport, KnowledgeError
from tests.knowledge.conftest import write

ORG = "org-ingest"


def _tree(root: Path) -> None:
    write(root, "disk.md", "# Disk full\n\n## Diagnosis\n\nRun `df -h` to find the volume that ran out of space.\n")
    write(root, "dns.md", "# DNS failures\n\nPods cannot resolve names; coredns is overloaded.\n")
    write(root, "team/redis.md", "# Redis memory\n\n## Mitigation\n\n1. Set a TTL on session keys.\n")


def _sources(kb: KnowledgeBase, query: str) -> list[str]:
    return [h.source for h in kb.search(ORG, query, k=10, per_document=0)]


def test_first_ingest_adds_everything(kb: KnowledgeBase, tmp_path: Path) -> None:
    _tree(tmp_path / "runbooks")
    seen: list[tuple[int, int, str]] = []
    report = kb.ingest(tmp_path / "runbooks", ORG, progress=lambda d, t, n: seen.append((d, t, n)))
    assert report == IngestReport(added=3, updated=0, unchanged=0, removed=0, sections=3)
    assert seen[-1][:2] == (3, 3)
    assert "team/redis.md#mitigation" in _sources(kb, "session keys ttl")


def test_unchanged_skipped_changed_reindexed_deleted_removed(kb: KnowledgeBase, tmp_path: Path) -> None:
    root = tmp_path / "runbooks"
    _tree(root)
    kb.ingest(root, ORG)
    assert kb.ingest(root, ORG) == IngestReport(unchanged=3)

    write(root, "disk.md", "# Disk full\n\n## Mitigation\n\nExpand the persistent volume claim.\n")
    (root / "dns.md").unlink()
    write(root, "new.md", "# Certificates\n\nRenew the expiring TLS certificate with cmctl.\n")
    report = kb.ingest(root, ORG)
    assert report == IngestReport(added=1, updated=1, unchanged=1, removed=1, sections=2)

    assert _sources(kb, "expand persistent volume claim")[0] == "disk.md#mitigation"
    assert "disk.md#diagnosis" not in _sources(kb, "df -h volume ran out of space")
    assert not any(s.startswith("dns.md") for s in _sources(kb, "coredns resolve names"))
    assert _sources(kb, "renew expiring TLS certificate")[0] == "new.md"


def test_single_file_ingest_never_removes_its_siblings(kb: KnowledgeBase, tmp_path: Path) -> None:
    root = tmp_path / "runbooks"
    _tree(root)
    kb.ingest(root, ORG)
    report = kb.ingest(root / "dns.md", ORG)
    assert report.unchanged == 1 and report.removed == 0
    assert "disk.md#diagnosis" in _sources(kb, "df volume out of space")


def test_projects_are_separate_document_sets(kb: KnowledgeBase, tmp_path: Path) -> None:
    _tree(tmp_path / "runbooks")
    kb.ingest(tmp_path / "runbooks", ORG, project="alpha")
    report = kb.ingest(tmp_path / "runbooks", ORG, project="beta")
    assert report.added == 3
    hits = kb.search(ORG, "coredns resolve names", k=5, project="beta", per_document=0)
    assert hits and {h.project for h in hits} == {"beta"}


def test_index_document_replaces_and_is_searchable(kb: KnowledgeBase) -> None:
    first = "# INC-7\n\n## Summary\n\nCheckout failed because the payment gateway certificate expired.\n"
    assert kb.index_document(ORG, "incidents/INC-7", "Checkout outage", first, kind="incident", service="checkout") == 1
    assert kb.index_document(ORG, "incidents/INC-7", "Checkout outage", first, kind="incident", service="checkout") == 0
    second = first.replace("certificate expired", "database pool was exhausted")
    assert kb.index_document(ORG, "incidents/INC-7", "Checkout outage", second, kind="incident", service="checkout") == 1
    hits = kb.search(ORG, "payment gateway database pool exhausted", k=3)
    assert hits[0].source == "incidents/INC-7#summary"
    assert hits[0].kind == "incident" and hits[0].service == "checkout" and hits[0].title == "Checkout outage"
    assert "certificate" not in " ".join(h.text for h in kb.search(ORG, "certificate expired", k=5, per_document=0))


def test_kinds_and_structured_fields_reach_the_hit(kb: KnowledgeBase, tmp_path: Path) -> None:
    write(tmp_path / "kb", "postmortems/2024-01-01-outage.md", "# Outage\n\n## Root cause\n\nA bad deploy.\n")
    write(tmp_path / "kb", "rollback.md",
          "# Rollback\n\n## Steps\n\n1. Undo the rollout:\n\n   ```bash\n   kubectl rollout undo deploy/api\n   ```\n\n"
          "2. Watch [the dashboard](https://grafana.example.com/d/api).\n")
    kb.ingest(tmp_path / "kb", ORG)
    assert kb.search(ORG, "bad deploy root cause", k=1)[0].kind == "postmortem"
    hit = kb.search(ORG, "undo the rollout", k=1)[0]
    assert hit.kind == "runbook" and hit.section == "Steps" and hit.path == "rollback.md"
    assert hit.commands == [{"language": "bash", "command": "kubectl rollout undo deploy/api"}]
    assert hit.steps == ["Undo the rollout:", "Watch the dashboard."]
    assert hit.links == [{"text": "the dashboard", "url": "https://grafana.example.com/d/api"}]
    assert set(hit.to_json()) >= {"source", "score", "text"}


def test_bad_inputs_raise_clear_errors(kb: KnowledgeBase, tmp_path: Path) -> None:
    with pytest.raises(KnowledgeError, match="no such file"):
        kb.ingest(tmp_path / "missing", ORG)
    with pytest.raises(KnowledgeError, match="unknown document kind"):
        kb.index_document(ORG, "x", "X", "# X\n\ntext", kind="memo")
    assert kb.search("org-without-knowledge", "anything") == []


def test_the_lexical_index_is_saved_at_ingest_and_loaded_not_rebuilt_by_another_process(
        open_kb: Callable[..., KnowledgeBase], tmp_path: Path) -> None:
    from knowledge.store import collection_name

    docs = tmp_path / "docs"
    write(docs, "a.md", "# Kafka consumer lag\n\nThe consumer group falls behind the partition offsets.\n")
    first = open_kb(data_dir=tmp_path / "data")
    first.ingest(docs, "org-lex")
    second = open_kb(data_dir=tmp_path / "data")  # a fresh process: nothing in memory
    col = second._store.collection("org-lex")  # noqa: SLF001 - the test inspects the saved index
    assert col is not None
    saved = second._lexical.get(col.name, second._store.version(col))  # noqa: SLF001
    assert saved is not None and saved.ids and saved.model is not None  # loaded from disk, memory-mapped
    assert second.search("org-lex", "partition offsets")[0].source == "a.md"
    write(docs, "b.md", "# Zookeeper session expiry\n\nEphemeral znodes vanish when sessions expire.\n")
    first.ingest(docs, "org-lex")  # a re-ingest updates the saved index
    assert second.search("org-lex", "ephemeral znodes", k=1)[0].source == "b.md"
    assert second._lexical.get(collection_name("org-lex"), second._store.version(col)) is None  # old version gone  # noqa: SLF001


def test_a_missing_lexical_index_is_rebuilt_in_the_background_never_on_the_request_path(
        open_kb: Callable[..., KnowledgeBase], tmp_path: Path) -> None:
    import shutil
    import time

    docs = tmp_path / "docs"
    write(docs, "a.md", "# Kafka consumer lag\n\nThe consumer group falls behind the partition offsets.\n")
    write(docs, "b.md", "# Disk filling up\n\nThe volume is almost full.\n")
    open_kb(data_dir=tmp_path / "data").ingest(docs, "org-bg")
    shutil.rmtree(tmp_path / "data" / "lexical")  # as on a host that did not ingest (shared Chroma server)
    kb = open_kb(data_dir=tmp_path / "data")
    col = kb._store.collection("org-bg")  # noqa: SLF001 - the test inspects the saved index
    assert col is not None
    first = kb.search("org-bg", "partition offsets", k=2)  # answered from the vectors alone
    assert first and first[0].source == "a.md"
    deadline = time.monotonic() + 20
    while kb._lexical.get(col.name, kb._store.version(col)) is None:  # noqa: SLF001
        assert time.monotonic() < deadline, "the background rebuild never landed"
        time.sleep(0.05)
    assert (tmp_path / "data" / "lexical" / col.name / "nodes.json").is_file()
