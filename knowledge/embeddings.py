"""Embedders: an offline feature-hashing default, the factory, and the Chroma embedding-function adapter."""

from __future__ import annotations

import math
import re
import zlib
from collections import Counter
from functools import lru_cache
from typing import Any

import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_EN
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from pydantic import Field, PrivateAttr

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_WORD = re.compile(r"[A-Za-z0-9]+")
_STOP = frozenset(STOPWORDS_EN) | {"via", "also", "may", "can", "e.g", "eg", "etc"}
_GROUP_WEIGHTS = {"word": 1.0, "bigram": 0.45, "char": 0.55}


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens; CamelCase words also contribute their parts; stop words dropped."""
    tokens: list[str] = []
    for word in _WORD.findall(text):
        lower = word.lower()
        parts = _CAMEL.sub(" ", word).lower().split()
        if len(parts) > 1:
            tokens.extend(p for p in parts if len(p) > 1 and p not in _STOP)
        if len(lower) > 1 and lower not in _STOP:
            tokens.append(lower)
    return tokens


def _bucket(feature: str, dim: int) -> tuple[int, float]:
    h = zlib.crc32(feature.encode("utf-8"))
    return h % dim, 1.0 if (h // dim) % 2 == 0 else -1.0


@lru_cache(maxsize=200_000)
def _char_vector(token: str, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit-length sparse vector (indices, values) of a token's character 3-5-grams."""
    padded = f"<{token}>"
    grams = Counter(padded[i : i + n] for n in (3, 4, 5) for i in range(len(padded) - n + 1))
    idx = np.empty(len(grams), dtype=np.int64)
    val = np.empty(len(grams), dtype=np.float64)
    for j, (gram, count) in enumerate(grams.items()):
        idx[j], sign = _bucket("c:" + gram, dim)
        val[j] = sign * (1.0 + math.log(count))
    return idx, val / (np.linalg.norm(val) or 1.0)


class HashingEmbedding(BaseEmbedding):
    """Deterministic offline embedder: hashed word unigrams, bigrams and char n-grams, sublinear tf, L2."""

    model_name: str = Field(default="revenant-hashing-v1")
    dim: int = Field(default=768, ge=64, le=8192)
    _stemmer: Any = PrivateAttr(default=None)

    def __init__(self, dim: int = 768, **kwargs: Any) -> None:
        fields: dict[str, Any] = {"dim": dim, "embed_batch_size": kwargs.pop("embed_batch_size", 256)}
        super().__init__(**fields, **kwargs)
        self._stemmer = Stemmer.Stemmer("english")

    @classmethod
    def class_name(cls) -> str:
        """LlamaIndex class name."""
        return "RevenantHashingEmbedding"

    def embed(self, text: str) -> np.ndarray:
        """Embed one text to a float32 unit vector of length dim."""
        tokens = tokenize(text)
        stems = self._stemmer.stemWords(tokens) if tokens else []
        vector = np.zeros(self.dim, dtype=np.float64)
        self._add_group(vector, Counter(stems), "w:", _GROUP_WEIGHTS["word"])
        bigrams = Counter(f"{a} {b}" for a, b in zip(stems, stems[1:], strict=False))
        self._add_group(vector, bigrams, "b:", _GROUP_WEIGHTS["bigram"])
        self._add_chars(vector, Counter(tokens))
        norm = np.linalg.norm(vector)
        return (vector / norm if norm else vector).astype(np.float32)

    def _add_group(self, vector: np.ndarray, counts: Counter[str], prefix: str, weight: float) -> None:
        if not counts:
            return
        idx = np.empty(len(counts), dtype=np.int64)
        val = np.empty(len(counts), dtype=np.float64)
        for j, (feature, count) in enumerate(counts.items()):
            idx[j], sign = _bucket(prefix + feature, self.dim)
            val[j] = sign * (1.0 + math.log(count))
        group = np.bincount(idx, weights=val, minlength=self.dim)
        vector += weight * group / (np.linalg.norm(group) or 1.0)

    def _add_chars(self, vector: np.ndarray, counts: Counter[str]) -> None:
        if not counts:
            return
        parts = [(_char_vector(token, self.dim), 1.0 + math.log(c)) for token, c in counts.items()]
        idx = np.concatenate([p[0][0] for p in parts])
        val = np.concatenate([p[0][1] * p[1] for p in parts])
        group = np.bincount(idx, weights=val, minlength=self.dim)
        vector += _GROUP_WEIGHTS["char"] * group / (np.linalg.norm(group) or 1.0)

    def _get_query_embedding(self, query: str) -> Embedding:
        return self.embed(query).tolist()

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return self.embed(query).tolist()

    def _get_text_embedding(self, text: str) -> Embedding:
        return self.embed(text).tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return [self.embed(t).tolist() for t in texts]


def embedder_id(embedder: BaseEmbedding) -> str:
    """A stable identity (class, model, dimension) stored with each collection to catch mismatches."""
    dim = getattr(embedder, "dim", None) or getattr(embedder, "dimensions", None) or ""
    return f"{embedder.class_name()}:{embedder.model_name}:{dim}"


class ChromaEmbeddingAdapter(EmbeddingFunction[Documents]):
    """Expose a LlamaIndex embedder as a Chroma embedding function (so Chroma never loads its default)."""

    def __init__(self, embedder: BaseEmbedding) -> None:
        self._embedder = embedder

    def __call__(self, input: Documents) -> Embeddings:
        return [np.asarray(v, dtype=np.float32) for v in self._embedder.get_text_embedding_batch(list(input))]

    def embed_query(self, input: Documents) -> Embeddings:
        """Embed query texts with the query side of the embedder."""
        return [np.asarray(self._embedder.get_query_embedding(q), dtype=np.float32) for q in input]

    @staticmethod
    def name() -> str:
        """The name Chroma records in the collection configuration."""
        return "runbook-revenant"

    def get_config(self) -> dict[str, Any]:
        """Serializable configuration: the embedder identity (and dimension for the offline embedder)."""
        return {"embedder": embedder_id(self._embedder), "dim": getattr(self._embedder, "dim", None)}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> ChromaEmbeddingAdapter:
        """Rebuild the offline embedder from its config; remote embedders need their credentials."""
        if str(config.get("embedder", "")).startswith("RevenantHashingEmbedding:"):
            return ChromaEmbeddingAdapter(HashingEmbedding(dim=int(config.get("dim") or 768)))
        if str(config.get("embedder", "")).startswith("RevenantOnnxMiniLM:"):
            from knowledge.embedder_onnx import OnnxMiniLMEmbedding

            return ChromaEmbeddingAdapter(OnnxMiniLMEmbedding())
        raise ValueError(f"cannot rebuild embedder {config.get('embedder')!r} without its settings")

    def default_space(self) -> Space:
        """Vectors are unit length, so cosine distance is the natural space."""
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        """Spaces that make sense for these vectors."""
        return ["cosine", "ip", "l2"]


def make_embedder(
    kind: str = "offline",
    *,
    openai_api_key: str | None = None,
    openai_base_url: str | None = None,
    model: str | None = None,
) -> BaseEmbedding:
    """Build an embedder: 'offline' (default, the shipped MiniLM model), 'hashing', 'openai' or 'local:<model>'."""
    kind = (kind or "offline").strip()
    if kind in ("offline", "default"):
        from knowledge.embedder_onnx import OnnxMiniLMEmbedding

        return OnnxMiniLMEmbedding()
    if kind == "hashing":
        return HashingEmbedding()
    if kind == "openai":
        from knowledge.embedders_remote import OpenAIEmbedder

        if not openai_api_key:
            raise ValueError("REVENANT_EMBEDDINGS=openai needs OPENAI_API_KEY")
        return OpenAIEmbedder(api_key=openai_api_key, base_url=openai_base_url, model=model)
    if kind.startswith("local:") or kind == "local":
        from knowledge.embedders_remote import SentenceTransformerEmbedder

        name = kind.partition(":")[2] or model
        if not name:
            raise ValueError("local embeddings need a model name: REVENANT_EMBEDDINGS=local:<model>")
        return SentenceTransformerEmbedder(model=name)
    raise ValueError(f"unknown embedder kind {kind!r}: use offline, hashing, openai or local:<model>")
