"""Embedding models: the packaged ONNX ones (default) or OpenAI's, behind one small interface.

The engine uses these plain objects so that answering a question never imports llama-index
(2.7 s of start-up on this machine); `as_llama_index()` adapts one to llama-index's
`BaseEmbedding` where llama-index itself needs it (the quickstart baseline).
The index records `identity` (name and dimension) so a store built with one embedder is never
queried with another.
"""

from __future__ import annotations

from typing import Any

from byline.config import Settings


class PackagedEmbedder:
    """A packaged int8 ONNX model from site-packages; no network, no torch."""

    def __init__(self, key: str = "bge-small", threads: int = 2, batch_size: int = 32):
        from byline.onnx_models import shared_embedder

        self.key = key
        self._model = shared_embedder(key, threads, batch_size)

    @property
    def identity(self) -> dict:
        return {"embedder": self.key, "dim": self._model.dim}

    def count_tokens(self, texts: list[str]) -> list[int]:
        return self._model.count_tokens(texts)

    def embed_query(self, text: str) -> list[float]:
        return self._model.embed_query(text)

    def embed_texts(self, texts: list[str]) -> list[list[float]]:
        return self._model.embed(texts).tolist()


class OpenAIEmbedder:
    """OpenAI (or OpenAI-compatible) embeddings through the `openai` client."""

    def __init__(self, model: str, api_key: str | None, base_url: str | None = None, timeout: float = 30.0):
        import openai

        self.model = model
        self._client = openai.OpenAI(api_key=api_key or "missing-key", base_url=base_url, timeout=timeout, max_retries=2)
        self._dim: int | None = None

    @property
    def identity(self) -> dict:
        if self._dim is None:
            self._dim = len(self.embed_query("dimension probe"))
        return {"embedder": f"openai:{self.model}", "dim": self._dim}

    def count_tokens(self, texts: list[str]) -> list[int]:
        from byline.chunking import word_token_estimate

        return word_token_estimate(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.embed_texts([text])[0]

    def embed_texts(self, texts: list[str]) -> list[list[float]]:
        out: list[list[float]] = []
        for start in range(0, len(texts), 256):
            result = self._client.embeddings.create(model=self.model, input=texts[start : start + 256])
            out.extend(d.embedding for d in sorted(result.data, key=lambda d: d.index))
        return out


Embedder = PackagedEmbedder | OpenAIEmbedder


def make_embedder(settings: Settings) -> Embedder:
    if settings.embedder == "openai":
        base_url = settings.base_url if settings.backend == "openai-compatible" else None
        return OpenAIEmbedder(settings.openai_embedding_model, settings.effective_api_key(), base_url, settings.request_timeout)
    return PackagedEmbedder(settings.embedder, settings.embed_threads, settings.embed_batch_size)


def as_llama_index(embedder: Embedder) -> Any:
    """The same embedder as a llama-index `BaseEmbedding`."""
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from pydantic import PrivateAttr

    class _Adapter(BaseEmbedding):
        _inner: Any = PrivateAttr()

        def __init__(self, inner: Embedder):
            super().__init__(model_name=inner.identity["embedder"], embed_batch_size=256)
            self._inner = inner

        def _get_query_embedding(self, query: str) -> list[float]:
            return self._inner.embed_query(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            return self._inner.embed_texts([text])[0]

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return self._inner.embed_texts(texts)

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

        async def _aget_text_embedding(self, text: str) -> list[float]:
            return self._get_text_embedding(text)

    return _Adapter(embedder)
