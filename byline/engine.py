"""The one API behind the web chat, the CLI and the evaluation: ingest, ask (or stream), list, delete.

No Gradio on this path: `from byline import Engine` works in any Python program.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from byline.answer import AnswerBuilder, Plan
from byline.chat import rewrite
from byline.config import Settings, is_capable, load_settings
from byline.places import place_names
from byline.llm import GeneratorError, LocalServer, OpenAIGenerator, make_generator
from byline.types import Answer, ArticleInfo, Done, IngestReport, ScoredPassage, SourcesFound, StandaloneQuestion, Token, Turn
from byline.words import written


class QuestionError(ValueError):
    """A question the engine will not take (empty, too long); the message is for the user."""


Event = StandaloneQuestion | SourcesFound | Token | Done


class Engine:
    def __init__(self, settings: Settings | None = None):
        self.settings = settings or load_settings()
        self._lock = threading.RLock()
        self._embedding = None
        self._store = None
        self._cross = None
        self._retriever = None
        self._builder = None
        self._local = LocalServer(self.settings)
        self._generators: dict[tuple, OpenAIGenerator] = {}

    # --- components, built on first use -------------------------------------------------------
    @property
    def embedding(self):
        with self._lock:
            if self._embedding is None:
                from byline.embeddings import make_embedder

                self._embedding = make_embedder(self.settings)
            return self._embedding

    @property
    def store(self):
        with self._lock:
            if self._store is None:
                from byline.store import Store

                self._store = Store(self.settings, self.embedding.identity)
            return self._store

    @property
    def cross_encoder(self):
        with self._lock:
            if self._cross is None:
                from byline.onnx_models import shared_cross_encoder

                self._cross = shared_cross_encoder(self.settings.embed_threads)
            return self._cross

    @property
    def retriever(self):
        with self._lock:
            if self._retriever is None:
                from byline.retrieval import Retriever

                self._retriever = Retriever(self.settings, self.store, self.embedding)
            return self._retriever

    @property
    def builder(self) -> AnswerBuilder:
        with self._lock:
            if self._builder is None:
                self._builder = AnswerBuilder(self.settings, self.cross_encoder)
            return self._builder

    def generator(self, settings: Settings) -> OpenAIGenerator | None:
        if settings.backend == "extractive":
            return None
        key = (settings.backend, settings.base_url, settings.model, settings.effective_api_key(), str(settings.model_path))
        with self._lock:
            if key not in self._generators:
                local = self._local
                if settings.backend == "local" and settings.model_path != self.settings.model_path:
                    local = LocalServer(settings)
                self._generators[key] = make_generator(settings, local)
            return self._generators[key]

    def start_local_model(self) -> None:
        """Start the local model server in the background so it loads while the index opens."""
        if self.settings.backend == "local":
            threading.Thread(target=self._start_local_quietly, daemon=True).start()

    def _start_local_quietly(self) -> None:
        try:
            self._local.base_url()
        except GeneratorError:
            pass  # the first question reports it

    def warm_up(self) -> None:
        """Load the models and open the index now rather than on the first question."""
        self.store.warm()
        self.cross_encoder.score("warm up", ["warm up"])
        self.embedding.embed_query("warm up")
        place_names("warm up")  # reads the GeoNames lists (about 0.15 s)
        if self.settings.backend == "local":
            try:
                self.generator(self.settings)
            except GeneratorError:
                pass  # reported on the first question instead

    # --- corpus -------------------------------------------------------------------------------
    def ingest(self, paths: list[Path] | None = None, progress=None, prune: bool = True, rebuild: bool = False, on_stored=None) -> IngestReport:
        from byline.ingest import ingest

        paths = [Path(p) for p in (paths or [self.settings.corpus_dir])]
        if rebuild:
            self.reset_index()
        return ingest(paths, self.store, self.embedding, self.settings, progress, prune, on_stored)

    def reset_index(self) -> None:
        """Drop the index (embedded store and caches, or the server collections) to rebuild it."""
        with self._lock:
            self._store = self._retriever = None
            if self.settings.chroma_url:
                from byline.store import _client

                client = _client(self.settings)
                for suffix in ("passages", "articles", "files"):
                    try:
                        client.delete_collection(f"{self.settings.collection}-{suffix}")
                    except Exception:
                        pass
            shutil.rmtree(Path(self.settings.index_dir), ignore_errors=True)

    def ensure_index(self, progress=None) -> IngestReport | None:
        """Build the index from the corpus folder when it is empty (first run)."""
        if self.store.count() == 0 and Path(self.settings.corpus_dir).exists():
            return self.ingest([Path(self.settings.corpus_dir)], progress)
        return None

    def index_may_exist(self) -> bool:
        """Without opening Chroma (a second's import): a server index, or the embedded store's files."""
        return bool(self.settings.chroma_url) or (Path(self.settings.index_dir) / "chroma" / "chroma.sqlite3").is_file()

    def articles(self) -> list[ArticleInfo]:
        return sorted((e.info for e in self.store.manifest().values()), key=lambda a: (a.published or "", a.title), reverse=True)

    def delete_article(self, article_id: str) -> bool:
        """Remove an article from the index; a file that held only this article is removed too."""
        entry = self.store.manifest().get(article_id)
        if entry is None:
            return False
        self.store.remove([article_id])
        path = Path(entry.info.path) if entry.info.path else None
        uploads = (Path(self.settings.corpus_dir) / "uploads").resolve()
        if path and path.is_file() and uploads in path.resolve().parents and path.suffix.lower() != ".jsonl":
            path.unlink()
        return True

    def stats(self) -> dict[str, Any]:
        manifest = self.store.manifest()
        return {
            "articles": len(manifest),
            "passages": sum(e.info.passages for e in manifest.values()),
            "index": self.store.location,
            "embedder": self.embedding.identity,
            "backend": self.settings.backend,
        }

    # --- questions ----------------------------------------------------------------------------
    def check_question(self, question: str) -> str:
        q = (question or "").strip()
        if not q:
            raise QuestionError("Please type a question.")
        limit = self.settings.max_question_chars
        if len(q) > limit:
            raise QuestionError(f"That question is {len(q):,} characters long; please keep it under {limit:,}.")
        return q

    def ask(self, question: str, history: list[Turn] | None = None, question_date: str | None = None, **overrides: Any) -> Answer:
        answer = None
        for event in self.stream(question, history, question_date, **overrides):
            if isinstance(event, Done):
                answer = event.answer
        assert answer is not None
        return answer

    def stream(
        self, question: str, history: list[Turn] | None = None, question_date: str | None = None, **overrides: Any
    ) -> Iterator[Event]:
        """Events as the answer forms: the standalone question, tokens, the sources, then the answer.

        `question_date` (YYYY-MM-DD) is when the question was asked, so "this week" can be read;
        `overrides` are Settings fields for this question only (backend, base_url, model, top_k, ...).
        """
        t0 = time.perf_counter()
        question = self.check_question(question)
        settings = self._with_overrides(overrides)
        notice = ""
        generator = None
        # The generator is fetched only when needed, so retrieval overlaps the local model's start.
        if history and settings.backend != "extractive":
            generator, notice = self._generator_or_notice(settings)
        standalone = rewrite(question, history or [], generator, self.builder.prompts["rewrite"])
        if standalone != question:
            yield StandaloneQuestion(standalone)
        t1 = time.perf_counter()
        # Searched and scored as an article would word it; the user's own words stay for display.
        searched = written(standalone)
        retrieval = self.retriever.retrieve(searched, settings.rerank_k, question_date)
        builder = self.builder if settings is self.settings else AnswerBuilder(settings, self.cross_encoder)
        plan = builder.plan(searched, retrieval.passages, follow_up=standalone != question, asked=question, rest=retrieval.rest)
        plan.question = question
        t2 = time.perf_counter()

        capable = is_capable(settings)
        wants = settings.backend != "extractive" and builder.wants_generation(plan, capable)
        if wants and generator is None and not notice:
            generator, notice = self._generator_or_notice(settings)
        if wants and capable and settings.model_neighbours:
            plan.context = self._neighbours(builder.given(plan, True)[: settings.model_neighbours])
        if not wants:
            answer = builder.extractive(plan)
        elif generator is None:
            answer = builder.extractive(plan, "fallback", notice and f"{notice} Showing the best supporting sentence instead.")
        else:
            answer = yield from self._generate(builder, plan, generator, settings, capable, history)
        t3 = time.perf_counter()
        answer.standalone_question = standalone
        answer.backend = settings.backend
        answer.retrieved = retrieval.passages
        answer.timings = {**retrieval.timings, "rewrite": t1 - t0, "plan": t2 - t1, "answer": t3 - t2, "total": t3 - t0}
        if answer.citations:
            yield SourcesFound(answer.citations)
        yield Done(answer)

    def _neighbours(self, passages: list[ScoredPassage]) -> list[ScoredPassage]:
        """The passages just before and after these in their articles: the fact a capable model is
        asked for often sits one passage on from the one that matched the question's words."""
        beside = {f"{c.passage.article_id}#{c.passage.index + d}": c.score for c in passages for d in (-1, 1) if c.passage.index + d >= 0}
        for c in passages:
            beside.pop(c.passage.id, None)
        found = self.store.get_passages(list(beside))
        # Scored as the passage they are beside: they were not read by the cross-encoder.
        return [ScoredPassage(found[i], score) for i, score in beside.items() if i in found]

    def _with_overrides(self, overrides: dict[str, Any]) -> Settings:
        """Settings for one question; values are validated like any other setting (keys become secrets)."""
        update = {k: v for k, v in overrides.items() if v is not None}
        if not update:
            return self.settings
        return Settings.model_validate({**self.settings.model_dump(), **update})

    def _generator_or_notice(self, settings: Settings) -> tuple[OpenAIGenerator | None, str]:
        try:
            return self.generator(settings), ""
        except GeneratorError as exc:
            return None, str(exc)

    def _generate(self, builder: AnswerBuilder, plan: Plan, generator: OpenAIGenerator, settings: Settings, capable: bool, history: list[Turn] | None):
        messages = builder.messages(plan, capable, history)
        pieces: list[str] = []
        tokens = settings.max_answer_tokens * (4 if capable else 1)  # a capable model writes sentences with [n] markers
        try:
            for piece in generator.stream(messages, tokens):
                pieces.append(piece)
                yield Token(piece)
        except GeneratorError as exc:
            return builder.extractive(plan, "fallback", f"{exc} Showing the best supporting sentence instead.")
        return builder.finish(plan, "".join(pieces), capable, settings.backend)

    def search(self, query: str, since: str | None = None, until: str | None = None, limit: int = 5) -> list:
        """The articles that best match `query`, published between `since` and `until`
        (YYYY-MM-DD, both included, either open), each with its best passage (ScoredPassage)."""
        from byline.dates import published_day

        query = self.check_question(query)
        days = [published_day(d) if d else None for d in (since, until)]
        if any(d is None and raw for d, raw in zip(days, (since, until))):
            raise QuestionError("Dates must be written YYYY-MM-DD, e.g. 2022-01-31.")
        window = None
        if since or until:
            window = (days[0] if days[0] is not None else 0, days[1] if days[1] is not None else 10**7)
        found = self.retriever.retrieve(written(query), max(self.settings.rerank_k, limit * 2), window=window).passages
        best: dict[str, object] = {}
        for sp in found:  # best first: the first passage of an article is its best
            best.setdefault(sp.passage.article_id, sp)
        return list(best.values())[: max(1, limit)]

    def close(self) -> None:
        self._local.stop()
        for gen in self._generators.values():
            try:
                gen.client.close()
            except Exception:
                pass
