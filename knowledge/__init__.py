"""Per-org runbook knowledge: Markdown ingestion, Chroma + BM25 hybrid retrieval, evaluation.

Exports are resolved lazily so `import knowledge` stays cheap (chromadb and LlamaIndex load on use).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from knowledge.embeddings import HashingEmbedding, make_embedder
    from knowledge.kb import KnowledgeBase
    from knowledge.models import EvalReport, Hit, IngestReport, KnowledgeError
    from knowledge.query import build_search_text

_EXPORTS = {
    "KnowledgeBase": "knowledge.kb",
    "Hit": "knowledge.models",
    "EvalReport": "knowledge.models",
    "IngestReport": "knowledge.models",
    "KnowledgeError": "knowledge.models",
    "HashingEmbedding": "knowledge.embeddings",
    "make_embedder": "knowledge.embeddings",
    "build_search_text": "knowledge.query",
}
__all__ = [
    "EvalReport",
    "HashingEmbedding",
    "Hit",
    "IngestReport",
    "KnowledgeBase",
    "KnowledgeError",
    "build_search_text",
    "make_embedder",
]


def __getattr__(name: str) -> Any:
    """Import an exported name on first access."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'knowledge' has no attribute {name!r}")
    return getattr(import_module(module), name)
