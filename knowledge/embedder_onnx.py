"""The offline semantic embedder: all-MiniLM-L6-v2 shipped as int8 ONNX, run with onnxruntime + tokenizers."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from pydantic import Field, PrivateAttr

from knowledge.models import KnowledgeError

MODEL_DIR = Path(__file__).resolve().parent / "model_assets" / "all-MiniLM-L6-v2"
MODEL_NAME = "all-MiniLM-L6-v2-int8"
DIMENSION = 384
MAX_TOKENS = 256


@dataclass(frozen=True)
class LoadedModel:
    """An onnxruntime session and its tokenizer (both safe to share between threads)."""

    session: Any
    tokenizer: Any


def verify(model_dir: Path) -> None:
    """Check model.onnx and tokenizer.json against SHA256SUMS; a clear error names what differs."""
    sums = model_dir / "SHA256SUMS"
    try:
        lines = sums.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise KnowledgeError(f"the embedding model at {model_dir} has no SHA256SUMS: {exc.strerror}") from exc
    for line in lines:
        expected, _, name = line.partition("  ")
        if name.startswith(("upstream/", "finetuned/")) or not name:  # provenance, not shipped files
            continue
        try:
            actual = hashlib.sha256((model_dir / name).read_bytes()).hexdigest()
        except OSError as exc:
            raise KnowledgeError(f"the embedding model file {model_dir / name} is missing: {exc.strerror}") from exc
        if actual != expected:
            raise KnowledgeError(
                f"{model_dir / name} does not match SHA256SUMS (a Git LFS pointer or a damaged copy?); "
                "reinstall, or rebuild it with scripts/export_embedding_model.py"
            )


@lru_cache(maxsize=4)
def load_model(model_dir: Path = MODEL_DIR, threads: int = 1) -> LoadedModel:
    """Load (once per process and directory) the verified ONNX model and its tokenizer."""
    import onnxruntime as ort
    from tokenizers import Tokenizer

    verify(model_dir)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(str(model_dir / "model.onnx"), options, providers=["CPUExecutionProvider"])
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=MAX_TOKENS)
    tokenizer.no_padding()
    return LoadedModel(session=session, tokenizer=tokenizer)


class OnnxMiniLMEmbedding(BaseEmbedding):
    """Sentence embeddings (384-d, unit length) from the shipped all-MiniLM-L6-v2 int8 ONNX model."""

    model_name: str = Field(default=MODEL_NAME)
    dim: int = Field(default=DIMENSION)
    threads: int = Field(default=1, ge=1, le=64)
    # Cosine of the top hit below which it is not offered: the lowest floor at which the top suggestion is
    # right for 80 % of the dev split (docs/benchmarks.md, the responder set).
    relevance_floor: float = Field(default=0.38)
    _model: LoadedModel | None = PrivateAttr(default=None)
    _model_dir: Path = PrivateAttr(default=MODEL_DIR)

    def __init__(self, model_dir: Path | None = None, threads: int = 1, **kwargs: Any) -> None:
        fields: dict[str, Any] = {"threads": threads, "embed_batch_size": kwargs.pop("embed_batch_size", 256)}
        super().__init__(**fields, **kwargs)
        self._model_dir = Path(model_dir) if model_dir else MODEL_DIR

    @classmethod
    def class_name(cls) -> str:
        """LlamaIndex class name."""
        return "RevenantOnnxMiniLM"

    def load(self) -> LoadedModel:
        """The loaded model (loaded and checked on first use)."""
        if self._model is None:
            self._model = load_model(self._model_dir, self.threads)
        return self._model

    def embed_many(self, texts: list[str]) -> np.ndarray:
        """Embed texts to a (n, 384) float32 array of unit vectors, one text per run.

        One at a time on purpose: the int8 model quantizes activations per run, so padding a text beside
        longer ones would change its vector; alone, a text always gets the same vector (and no padding
        makes it no slower on CPU)."""
        model = self.load()
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, encoding in enumerate(model.tokenizer.encode_batch([t if t.strip() else "." for t in texts])):
            ids = np.asarray([encoding.ids], dtype=np.int64)
            out[i] = model.session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0][0]
        return out

    def _get_query_embedding(self, query: str) -> Embedding:
        return self.embed_many([query])[0].tolist()

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> Embedding:
        return self.embed_many([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return [v.tolist() for v in self.embed_many(texts)]
