"""The comparison point: the plain llama-index quickstart over the same corpus.

`VectorStoreIndex` over a Chroma collection, llama-index's default chunking (SentenceSplitter,
1024 tokens, 200 overlap) and `as_query_engine(similarity_top_k=2)` with the default prompts,
using Byline's embedder and Byline's generator (wrapped in a tiny `CustomLLM`). llama-index's
global `Settings.llm` and `Settings.embed_model` are set explicitly, so nothing reaches for OpenAI
or downloads a model. Like the quickstart it ignores conversation history and question dates.

Its "retrieved" passages are the source nodes, and its citations are the source nodes' articles,
so retrieval and citation metrics are comparable with Byline's; it refuses only when it has no
answer text at all.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from byline.config import Settings
from byline.evaluation.pipelines import Progress
from byline.types import Answer, Citation, Passage, ScoredPassage, Turn

SIMILARITY_TOP_K = 2
BATCH_ARTICLES = 64
MANIFEST = "baseline-manifest.json"
COLLECTION = "baseline"
REMOTE_CONTEXT_WINDOW = 8192
# llama-index counts tokens with tiktoken; SmolLM2's tokenizer makes more of the same text, so
# the window declared for the local model leaves room for the difference.
LOCAL_WINDOW_MARGIN = 0.8


def make_llm(generator, context_window: int, num_output: int):
    """A llama-index LLM that answers through Byline's OpenAIGenerator (chat messages as they are)."""
    from llama_index.core.base.llms.types import ChatMessage, ChatResponse, CompletionResponse, LLMMetadata, MessageRole
    from llama_index.core.llms import CustomLLM
    from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
    from pydantic import PrivateAttr

    class BylineLLM(CustomLLM):
        context_window: int = 1024
        num_output: int = 64
        model_name: str = "byline"
        _generator: Any = PrivateAttr()

        def __init__(self, generator, **kwargs: Any):
            super().__init__(**kwargs)
            self._generator = generator

        @property
        def metadata(self) -> LLMMetadata:
            return LLMMetadata(context_window=self.context_window, num_output=self.num_output, model_name=self.model_name, is_chat_model=True)

        @llm_chat_callback()
        def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
            payload = [{"role": m.role.value, "content": m.content or ""} for m in messages]
            text = self._generator.complete(payload, max_tokens=self.num_output)
            return ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text))

        @llm_completion_callback()
        def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
            return CompletionResponse(text=self._generator.complete([{"role": "user", "content": prompt}], max_tokens=self.num_output))

        @llm_completion_callback()
        def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any):
            text = ""
            for piece in self._generator.stream([{"role": "user", "content": prompt}], max_tokens=self.num_output):
                text += piece
                yield CompletionResponse(text=text, delta=piece)

    return BylineLLM(generator, context_window=context_window, num_output=num_output, model_name=getattr(generator, "model", "byline"))


def context_window(settings: Settings) -> int:
    if settings.backend == "local":  # llama.cpp gives each parallel slot ctx/parallel tokens
        return int(settings.llm_ctx // max(1, settings.llm_parallel) * LOCAL_WINDOW_MARGIN)
    return REMOTE_CONTEXT_WINDOW


class BaselinePipeline:
    name = "baseline"

    def __init__(self, settings: Settings, corpus: Path, index_dir: Path, generator, generator_settings: Settings):
        self.settings = settings
        self.corpus = Path(corpus)
        self.index_dir = Path(index_dir)
        self._generator = generator
        self._gen_settings = generator_settings
        self._index = None
        self._engine = None
        self._collection = None
        self.on_close = None  # stops a generator server started for the baseline

    def _configure(self):
        """llama-index's globals, set explicitly: our embedder and our generator, nothing remote."""
        from llama_index.core import Settings as LlamaSettings

        from byline.embeddings import as_llama_index, make_embedder

        embed = as_llama_index(make_embedder(self.settings))
        llm = make_llm(self._generator, context_window(self._gen_settings), self._gen_settings.max_answer_tokens)
        LlamaSettings.embed_model = embed
        LlamaSettings.llm = llm
        return embed, llm

    def prepare(self, progress: Progress | None = None) -> dict:
        import chromadb
        from llama_index.core import Settings as LlamaSettings
        from llama_index.core import VectorStoreIndex
        from llama_index.core.ingestion import run_transformations
        from llama_index.vector_stores.chroma import ChromaVectorStore

        from byline.corpus import ReadError, read_articles
        from byline.ingest import estimate_articles

        started = time.perf_counter()
        embed, llm = self._configure()
        self.index_dir.mkdir(parents=True, exist_ok=True)
        client = chromadb.PersistentClient(path=str(self.index_dir / "chroma"), settings=chromadb.Settings(anonymized_telemetry=False))
        self._collection = client.get_or_create_collection(COLLECTION, metadata={"embedder": embed.model_name})
        store = ChromaVectorStore(chroma_collection=self._collection)
        self._index = VectorStoreIndex.from_vector_store(store, embed_model=embed)

        manifest_path = self.index_dir / MANIFEST
        manifest: dict[str, str] = _read_json(manifest_path)
        if manifest.get("__embedder__") != embed.model_name and manifest:
            self._collection.delete(where={"document_id": {"$in": [k for k in manifest if k != "__embedder__"]}})
            manifest = {}
        manifest["__embedder__"] = embed.model_name
        total = estimate_articles([self.corpus]) if progress else 0
        seen: set[str] = set()
        batch: list = []
        added = errors = done = 0

        def flush() -> None:
            nonlocal batch, added
            if not batch:
                return
            ids = [d.id_ for d in batch]
            self._collection.delete(where={"document_id": {"$in": ids}})  # re-done after a crash: no duplicates
            nodes = run_transformations(batch, LlamaSettings.transformations)
            self._index.insert_nodes(nodes)
            manifest.update({d.id_: d.metadata["hash"] for d in batch})
            _write_json(manifest_path, manifest)
            added += len(batch)
            batch = []

        for item in read_articles([self.corpus]):
            done += 1
            if isinstance(item, ReadError):
                errors += 1
            elif item.id not in seen:
                seen.add(item.id)
                if manifest.get(item.id) != item.content_hash:
                    batch.append(_document(item))
                    if len(batch) >= BATCH_ARTICLES:
                        flush()
            if progress:
                progress(done, max(total, done), getattr(item, "title", ""))
        flush()
        gone = [k for k in manifest if k != "__embedder__" and k not in seen]
        if gone:
            self._collection.delete(where={"document_id": {"$in": gone}})
            for k in gone:
                manifest.pop(k)
            _write_json(manifest_path, manifest)
        self._engine = self._index.as_query_engine(similarity_top_k=SIMILARITY_TOP_K, llm=llm)
        return {
            "index": str(self.index_dir),
            "summary": f"{added} added, {len(gone)} removed, {errors} errors",
            "seconds": round(time.perf_counter() - started, 2),
            "added": added,
            "articles": len(seen),
            "generator": self._gen_settings.backend,
        }

    def ask(self, question: str, history: list[Turn], question_date: str | None) -> Answer:
        assert self._engine is not None, "prepare() first"
        t0 = time.perf_counter()
        response = self._engine.query(question)
        total = time.perf_counter() - t0
        text = str(response.response or "").strip()
        nodes = list(response.source_nodes or [])
        refused = not text or text == "Empty Response"
        retrieved = [ScoredPassage(_passage(n.node, i), float(n.score or 0.0)) for i, n in enumerate(nodes)]
        citations = [
            Citation(i + 1, sp.passage.article_id, sp.passage.title, sp.passage.url, sp.passage.published, sp.passage.source, sp.passage.text, round(sp.score, 3), sp.passage.id)
            for i, sp in enumerate(retrieved)
        ]
        return Answer(
            question=question, answer=text, refused=refused, citations=citations, mode="refused" if refused else "generated",
            standalone_question=question, backend=f"baseline:{self._gen_settings.backend}", timings={"total": total}, retrieved=retrieved,
        )  # fmt: skip

    def article_ids(self) -> set[str]:
        return {k for k in _read_json(self.index_dir / MANIFEST) if k != "__embedder__"}

    def close(self) -> None:
        self._engine = self._index = self._collection = None
        if self.on_close:
            self.on_close()
            self.on_close = None


def _document(article):
    from llama_index.core import Document

    meta = {"article_id": article.id, "title": article.title, "published": article.published, "source": article.source, "url": article.url, "hash": article.content_hash}
    hidden = ["article_id", "url", "hash"]
    return Document(id_=article.id, text=article.text, metadata=meta, excluded_embed_metadata_keys=hidden, excluded_llm_metadata_keys=hidden)


def _passage(node, i: int) -> Passage:
    m = node.metadata or {}
    return Passage(
        id=node.node_id, article_id=m.get("article_id") or getattr(node, "ref_doc_id", "") or "", index=i,
        text=node.get_content(), start=0, end=0, title=m.get("title", ""), source=m.get("source", ""),
        url=m.get("url", ""), published=m.get("published", ""),
    )  # fmt: skip


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_json(path: Path, data: dict) -> None:
    tmp = Path(path).with_suffix(".tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    tmp.replace(path)
