"""Shared fixtures: a knowledge base with the shipped demo runbooks, and tiny Markdown trees."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from knowledge.kb import KnowledgeBase

DEMO_DATA = Path(__file__).resolve().parents[2] / "bot" / "demo_data"
DEMO_ORG = "org-demo"


@pytest.fixture(scope="session")
def demo_kb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnowledgeBase]:
    """A knowledge base (own temp data dir) holding the shipped runbooks and postmortems for DEMO_ORG."""
    with KnowledgeBase(data_dir=tmp_path_factory.mktemp("demo-kb")) as kb:
        kb.ingest(DEMO_DATA, DEMO_ORG)
        yield kb


@pytest.fixture
def kb(tmp_path: Path) -> Iterator[KnowledgeBase]:
    """An empty knowledge base under this test's tmp_path."""
    with KnowledgeBase(data_dir=tmp_path / "data") as kb:
        yield kb


def write(root: Path, rel: str, text: str) -> Path:
    """Write a Markdown file under root, creating folders."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
