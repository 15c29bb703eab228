"""Plain data passed between the pipeline stages and out to the UI, CLI and evaluation."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

from byline.dates import published_day_field


@dataclass
class Article:
    id: str
    title: str
    text: str  # cleaned text; passage offsets point into it
    source: str = ""
    url: str = ""
    published: str = ""  # YYYY-MM-DD when known
    authors: list[str] = field(default_factory=list)
    path: str = ""  # where it was read from

    @property
    def content_hash(self) -> str:
        import hashlib

        h = hashlib.sha256()
        for part in (self.title, self.source, self.url, self.published, self.text):
            h.update(part.encode("utf-8"))
            h.update(b"\x00")
        return h.hexdigest()[:32]


@dataclass
class Passage:
    id: str  # "{article_id}#{index}"
    article_id: str
    index: int
    text: str
    start: int  # character offsets in Article.text
    end: int
    title: str = ""
    source: str = ""
    url: str = ""
    published: str = ""

    def metadata(self) -> dict:
        return {
            "article_id": self.article_id,
            "index": self.index,
            "start": self.start,
            "end": self.end,
            "title": self.title,
            "source": self.source,
            "url": self.url,
            "published": self.published,
            **published_day_field(self.published),
        }


@dataclass
class ScoredPassage:
    passage: Passage
    score: float  # cross-encoder logit after rerank, fused score before
    vector_rank: int | None = None
    bm25_rank: int | None = None


@dataclass
class Citation:
    n: int
    article_id: str
    title: str
    url: str
    published: str
    source: str
    passage: str
    score: float
    passage_id: str = ""
    # The supporting sentence as offsets into `passage`, for highlighting.
    highlight_start: int = 0
    highlight_end: int = 0

    def public(self) -> dict:
        return {
            k: v
            for k, v in asdict(self).items()
            if k in ("n", "article_id", "title", "url", "published", "source", "passage", "score", "highlight_start", "highlight_end")
        }


AnswerMode = Literal["generated", "extractive", "fallback", "refused"]


@dataclass
class Answer:
    question: str
    answer: str
    refused: bool
    citations: list[Citation]
    mode: AnswerMode
    standalone_question: str = ""  # the follow-up rewritten for retrieval, when it differs
    notice: str = ""  # one sentence about what went wrong (backend fault, fallback reason)
    backend: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    retrieved: list[ScoredPassage] = field(default_factory=list)  # for evaluation
    # "answer" (confident), "closest" (passages that come closest) or "refused" (nothing relevant).
    tier: Literal["answer", "closest", "refused"] = "answer"
    short_answer: str | None = None  # the date, name, number or place that answers, when there is one
    sentences: list = field(default_factory=list)  # verify.CheckedSentence: each sentence, its citations, supported or not

    def to_json(self) -> dict:
        out = {
            "answer": self.answer,
            "refused": self.refused,
            "citations": [c.public() for c in self.citations],
            "mode": self.mode,
            "tier": self.tier,
            "short_answer": self.short_answer,
            "sentences": [x.to_json() for x in self.sentences],
            "backend": self.backend,
        }
        if self.standalone_question and self.standalone_question != self.question:
            out["standalone_question"] = self.standalone_question
        if self.notice:
            out["notice"] = self.notice
        out["timings"] = {k: round(v, 4) for k, v in self.timings.items()}
        return out


@dataclass
class Turn:
    """One exchange of a conversation, as the engine needs it for follow-ups."""

    question: str
    answer: str
    standalone_question: str = ""


# Streaming events from Engine.stream(): the UI renders them as they come.
@dataclass
class StandaloneQuestion:
    text: str


@dataclass
class SourcesFound:
    citations: list[Citation]


@dataclass
class Token:
    text: str


@dataclass
class Done:
    answer: Answer


@dataclass
class IngestItem:
    path: str
    article_id: str
    status: Literal["added", "updated", "skipped", "removed", "error"]
    reason: str = ""
    title: str = ""


@dataclass
class IngestReport:
    items: list[IngestItem] = field(default_factory=list)
    passages_added: int = 0  # passages written (all of them are in BM25)
    passages_embedded: int = 0  # of those, the leading ones that got a vector
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for i in self.items if i.status == status)

    def summary(self) -> str:
        parts = [f"{self.count(s)} {s}" for s in ("added", "updated", "skipped", "removed", "error")]
        return ", ".join(parts) + f" ({self.passages_added} passages, {self.passages_embedded} embedded, in {self.seconds:.1f} s)"


@dataclass
class ArticleInfo:
    id: str
    title: str
    source: str
    url: str
    published: str
    passages: int
    path: str
