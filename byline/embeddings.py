"""Embedding models as llama-index `BaseEmbedding`s: the packaged ONNX ones, or OpenAI's.

The index records `identity` (name and dimension) so a store built with one embedder is never
queried with another.
"""

from __future__ import annotations

from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from byline.config import Settings


class PackagedEmbedding(BaseEmbedding):
    """A packaged int8 ONNX model from site-packages; no network, no torch."""

    key: str = "bge-small"
    _model: Any = PrivateAttr()

    def __init__(self, key: str = "bge-small", threads: int = 2, batch_size: int = 32, **kwargs: Any):
        from byline.onnx_models import shared_embedder

        super().__init__(key=key, model_name=key, embed_batch_size=max(batch_size, 256), **kwargs)
        self._model = shared_embedder(key, threads, batch_size)

    @property
    def identity(self) -> dict:
        return {"embedder": self.key, "dim": self._model.dim}

    def count_tokens(self, texts: list[str]) -> list[int]:
        return self._model.count_tokens(texts)

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._model.embed_query(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._model.embed([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._model.embed(texts).tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embedding(text)


class OpenAIClientEmbedding(BaseEmbedding):
    """OpenAI (or compatible) embeddings through the `openai` client."""

    _client: Any = PrivateAttr()
    _dim: int | None = PrivateAttr(default=None)

    def __init__(self, model: str, api_key: str | None, base_url: str | None = None, timeout: float = 30.0, **kwargs: Any):
        import openai

        super().__init__(model_name=model, embed_batch_size=128, **kwargs)
        self._client = openai.OpenAI(api_key=api_key or "missing-key", base_url=base_url, timeout=timeout, max_retries=2)

    @property
    def identity(self) -> dict:
        if self._dim is None:
            self._dim = len(self._get_query_embedding("dimension probe"))
        return {"embedder": f"openai:{self.model_name}", "dim": self._dim}

    def count_tokens(self, texts: list[str]) -> list[int]:
        from byline.chunking import word_token_estimate

        return word_token_estimate(texts)

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._get_text_embeddings([query])[0]

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embeddings([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        result = self._client.embeddings.create(model=self.model_name, input=texts)
        return [d.embedding for d in sorted(result.data, key=lambda d: d.index)]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embedding(text)


def make_embedding(settings: Settings) -> PackagedEmbedding | OpenAIClientEmbedding:
    if settings.embedder == "openai":
        base_url = settings.base_url if settings.backend == "openai-compatible" else None
        return OpenAIClientEmbedding(settings.openai_embedding_model, settings.effective_api_key(), base_url, settings.request_timeout)
    return PackagedEmbedding(settings.embedder, settings.embed_threads, settings.embed_batch_size)
