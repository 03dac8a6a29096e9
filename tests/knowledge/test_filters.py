"""Project and service filters: a document matches its own scope or is not bound to any."""

from __future__ import annotations

from knowledge.kb import KnowledgeBase

ORG = "org-filters"
TEXT = "# {title}\n\nConnection pool exhausted, too many clients on the database.\n"


def _index(kb: KnowledgeBase) -> None:
    kb.index_document(ORG, "generic", "Generic", TEXT.format(title="Generic"), kind="postmortem")
    kb.index_document(ORG, "alpha-checkout", "A", TEXT.format(title="A"), project="alpha", service="checkout")
    kb.index_document(ORG, "alpha-search", "B", TEXT.format(title="B"), project="alpha", service="search")
    kb.index_document(ORG, "beta-checkout", "C", TEXT.format(title="C"), project="beta", service="checkout")


def _docs(kb: KnowledgeBase, **filters: str) -> set[str]:
    return {h.path for h in kb.search(ORG, "too many clients connection pool", k=10, **filters)}


def test_project_and_service_filters(kb: KnowledgeBase) -> None:
    _index(kb)
    assert _docs(kb) == {"generic", "alpha-checkout", "alpha-search", "beta-checkout"}
    assert _docs(kb, project="alpha") == {"generic", "alpha-checkout", "alpha-search"}
    assert _docs(kb, service="checkout") == {"generic", "alpha-checkout", "beta-checkout"}
    assert _docs(kb, project="alpha", service="checkout") == {"generic", "alpha-checkout"}
    assert _docs(kb, project="gamma", service="nothing") == {"generic"}


def test_front_matter_services_scope_runbooks(kb: KnowledgeBase, tmp_path) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "rb"
    root.mkdir()
    (root / "shared.md").write_text("---\nservices: [checkout, cart]\n---\n# Shared\n\nRedis evictions rising.\n")
    (root / "other.md").write_text("---\nservice: search\n---\n# Other\n\nRedis evictions rising.\n")
    kb.ingest(root, ORG)
    hits = kb.search(ORG, "redis evictions", k=5, service="cart")
    assert [h.path for h in hits] == ["shared.md"] and hits[0].service == "checkout,cart"
