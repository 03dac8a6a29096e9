"""Shared fixtures: a knowledge base with the shipped demo runbooks, and tiny Markdown trees."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.kb import KnowledgeBase

DEMO_DATA = Path(__file__).resolve().parents[2] / "bot" / "demo_data"
DEMO_ORG = "org-demo"


@pytest.fixture(scope="session")
def demo_kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    """A knowledge base (own temp data dir) holding the shipped runbooks and postmortems for DEMO_ORG."""
    kb = KnowledgeBase(data_dir=tmp_path_factory.mktemp("demo-kb"))
    kb.ingest(DEMO_DATA, DEMO_ORG)
    return kb


@pytest.fixture
def kb(tmp_path: Path) -> KnowledgeBase:
    """An empty knowledge base under this test's tmp_path."""
    return KnowledgeBase(data_dir=tmp_path / "data")


def write(root: Path, rel: str, text: str) -> Path:
    """Write a Markdown file under root, creating folders."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
