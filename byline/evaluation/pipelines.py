"""What the runner asks: Byline's engine (the same `Engine.ask` the chat uses), behind a small
interface the baseline shares: `prepare(progress)` builds or refreshes the index, `ask(...)`
answers one question, `close()` frees what was started.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from byline.config import Settings
from byline.evaluation import indexes
from byline.types import Answer, Turn

Progress = Callable[[int, int, str], None]  # (done, total, label)


class Pipeline(Protocol):
    name: str
    index_dir: Path

    def prepare(self, progress: Progress | None = None) -> dict: ...

    def ask(self, question: str, history: list[Turn], question_date: str | None) -> Answer: ...

    def article_ids(self) -> set[str]: ...

    def close(self) -> None: ...


class BylinePipeline:
    name = "byline"

    def __init__(self, settings: Settings, corpus: Path):
        from byline.engine import Engine

        self.corpus = Path(corpus)
        self.settings = indexes.byline_settings(settings, self.corpus)
        self.index_dir = Path(self.settings.index_dir)
        self.engine = Engine(self.settings)

    def prepare(self, progress: Progress | None = None) -> dict:
        """Ingest the corpus into this corpus's own index (incremental; rebuilt when built another way)."""
        self.engine.start_local_model()  # loads while the index opens
        fingerprint = indexes.byline_fingerprint(self.settings)
        rebuilt = indexes.needs_rebuild(self.index_dir, fingerprint)
        if rebuilt:
            self.engine.reset_index()
        indexes.write_fingerprint(self.index_dir, fingerprint)
        report = self.engine.ingest([self.corpus], progress=progress, prune=True)
        self.engine.warm_up()  # model loading is not a question's latency
        return {
            "index": str(self.index_dir),
            "rebuilt": rebuilt,
            "summary": report.summary(),
            "seconds": round(report.seconds, 2),
            "added": report.count("added") + report.count("updated"),
            "errors": [f"{i.path}: {i.reason}" for i in report.items if i.status == "error"][:20],
            "articles": self.engine.store.count(),
        }

    def ask(self, question: str, history: list[Turn], question_date: str | None) -> Answer:
        return self.engine.ask(question, history=history or None, question_date=question_date)

    def article_ids(self) -> set[str]:
        return set(self.engine.store.manifest())

    def close(self) -> None:
        self.engine.close()
