"""Tenant isolation: one org never retrieves another org's documents (property test)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from knowledge.kb import KnowledgeBase
from knowledge.store import collection_name

WORDS = ["disk", "latency", "kafka", "postgres", "certificate", "restart", "memory", "queue", "dns", "timeout",
         "replica", "quota", "rollback", "node", "redis", "checkout", "error", "lag", "cpu", "volume"]
word_lists = st.lists(st.sampled_from(WORDS), min_size=3, max_size=12)
org_docs = st.lists(word_lists, min_size=1, max_size=4)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(docs=st.lists(org_docs, min_size=2, max_size=3), query=word_lists, project=st.sampled_from([None, "p1"]))
def test_an_org_only_ever_sees_its_own_documents(
        open_kb: Callable[..., KnowledgeBase], tmp_path: Path, docs: list[list[list[str]]], query: list[str],
        project: str | None) -> None:
    kb = open_kb(data_dir=tmp_path / "data")
    run = uuid.uuid4().hex[:8]
    owned: dict[str, set[str]] = {}
    for number, documents in enumerate(docs):
        org = f"org-{run}-{number}"
        owned[org] = set()
        for index, words in enumerate(documents):
            doc_id = f"{org}/doc-{index}"
            kb.index_document(org, doc_id, f"Doc {index}", "# T\n\n" + " ".join(words), kind="incident", project=project)
            owned[org].add(doc_id)
    for org, mine in owned.items():
        other_text = " ".join(" ".join(w) for docs_of in docs for w in docs_of)
        for text in (" ".join(query), other_text):
            hits = kb.search(org, text, k=20, project=project, per_document=0)
            assert {h.source.split("#")[0] for h in hits} <= mine


def test_orgs_use_distinct_valid_collections_and_delete_is_scoped(kb: KnowledgeBase) -> None:
    names = {collection_name(org) for org in ("acme", "ACME", "a.c.m.e", "a c m e", "x" * 300, "Ünïcode-org")}
    assert len(names) == 6
    assert all(3 <= len(n) <= 512 and n[0].isalnum() and n[-1].isalnum() for n in names)
    kb.index_document("acme", "a", "A", "# A\n\nshared words about disks", kind="incident")
    kb.index_document("globex", "b", "B", "# B\n\nshared words about disks", kind="incident")
    assert kb.delete_org("acme") is True
    assert kb.search("acme", "shared words about disks") == []
    assert [h.source for h in kb.search("globex", "shared words about disks")] == ["b"]
    assert kb.delete_org("acme") is False
