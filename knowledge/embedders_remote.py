"""Optional embedders: an OpenAI-compatible API client and a local sentence-transformers model."""

from __future__ import annotations

from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from pydantic import Field, PrivateAttr

DEFAULT_OPENAI_MODEL = "text-embedding-3-small"


class OpenAIEmbedder(BaseEmbedding):
    """Embeddings from an OpenAI-compatible /embeddings endpoint through the openai client."""

    base_url: str | None = Field(default=None)
    dimensions: int | None = Field(default=None)
    _client: Any = PrivateAttr(default=None)
    _aclient: Any = PrivateAttr(default=None)
    _api_key: str = PrivateAttr(default="")

    def __init__(
        self, *, api_key: str, base_url: str | None = None, model: str | None = None,
        dimensions: int | None = None, **kwargs: Any,
    ) -> None:
        fields: dict[str, Any] = {
            "model_name": model or DEFAULT_OPENAI_MODEL, "base_url": base_url, "dimensions": dimensions,
            "embed_batch_size": kwargs.pop("embed_batch_size", 128),
        }
        super().__init__(**fields, **kwargs)
        self._api_key = api_key

    @classmethod
    def class_name(cls) -> str:
        """LlamaIndex class name."""
        return "RevenantOpenAIEmbedding"

    def _sync(self) -> Any:
        if self._client is None:
            import openai

            self._client = openai.OpenAI(api_key=self._api_key, base_url=self.base_url)
        return self._client

    def _async(self) -> Any:
        if self._aclient is None:
            import openai

            self._aclient = openai.AsyncOpenAI(api_key=self._api_key, base_url=self.base_url)
        return self._aclient

    def _kwargs(self) -> dict[str, Any]:
        return {"dimensions": self.dimensions} if self.dimensions else {}

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        response = self._sync().embeddings.create(model=self.model_name, input=texts, **self._kwargs())
        return [list(item.embedding) for item in sorted(response.data, key=lambda d: d.index)]

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        response = await self._async().embeddings.create(model=self.model_name, input=texts, **self._kwargs())
        return [list(item.embedding) for item in sorted(response.data, key=lambda d: d.index)]

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._get_text_embeddings([text])[0]

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return (await self._aget_text_embeddings([text]))[0]

    def _get_query_embedding(self, query: str) -> Embedding:
        return self._get_text_embedding(query)

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return await self._aget_text_embedding(query)


class SentenceTransformerEmbedder(BaseEmbedding):
    """A local sentence-transformers model (install extra); the model must already be on disk or cached."""

    _model: Any = PrivateAttr(default=None)

    def __init__(self, *, model: str, **kwargs: Any) -> None:
        super().__init__(model_name=model, **kwargs)
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise RuntimeError(
                "local embeddings need the optional package sentence-transformers: "
                ".venv/bin/pip install -e '.[local-embeddings]' (and a model available offline)"
            ) from exc
        self._model = SentenceTransformer(model)

    @classmethod
    def class_name(cls) -> str:
        """LlamaIndex class name."""
        return "RevenantSentenceTransformerEmbedding"

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        vectors = self._model.encode(texts, normalize_embeddings=True, show_progress_bar=False)
        return [list(map(float, v)) for v in vectors]

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._get_text_embeddings([text])[0]

    def _get_query_embedding(self, query: str) -> Embedding:
        return self._get_text_embedding(query)

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return self._get_text_embedding(query)
