"""Scoring: one question's answer against its gold data, and a summary over many questions.

Definitions (also in docs/EVALUATION.md):
- Retrieval is scored per article: the retrieved passages (best first) are reduced to their
  articles in order of first appearance, and `rank` is the 1-based position of the first gold
  article there (None when none was retrieved). hit@k = rank <= k; MRR@10 = 1/rank for rank <= 10.
- An answer is correct when a normalised accepted answer occurs in the normalised reply on word
  boundaries (NFKC, casefolded, punctuation including unicode quotes and apostrophes turned into
  spaces, spaces collapsed, number words up to twenty and the tens read as digits), so "Lavrov" is
  found in "Lavrov’s", "6" in "six months", but "3" is not found in "2023".
- Citation accuracy: the reply cites at least one gold article. Citation precision: the share of
  its citations that are from gold articles (averaged over answers that cite something).
- Tiers: `answer_accuracy` counts the `answer` tier only (accepted string in the reply);
  `answered_right` also needs a gold article cited; `shown` is the same test (accepted string and a
  gold article cited) on what the `answer` or `closest` tier shows; `unanswerable_confident` is the
  share of unanswerable questions given a confident (`answer` tier) answer; `false_refusals` the
  share of answerable ones put in the `refused` tier.
"""

from __future__ import annotations

import math
import re
import statistics
import unicodedata
from dataclasses import asdict, dataclass, field

from byline.evaluation.dataset import Question
from byline.types import Answer

KS = (1, 5, 10)
_APOSTROPHES = "'’‘ʼ`´"
_MARKER = re.compile(r"\[\d+(?:\s*,\s*\d+)*\]")


_NUMBER_WORDS = {
    w: str(i)
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
} | {w: str(10 * i) for i, w in enumerate("thirty forty fifty sixty seventy eighty ninety".split(), start=3)}


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "").casefold()
    text = "".join(" " if ch in _APOSTROPHES or unicodedata.category(ch).startswith("P") else ch for ch in text)
    # "six months" answers "6": the gold data writes numbers either way.
    return " ".join(_NUMBER_WORDS.get(w, w) for w in text.split())


def contains_answer(reply: str, answers: list[str]) -> bool:
    """True when any accepted answer occurs in the reply, both normalised, on word boundaries."""
    hay = f" {normalize(reply)} "
    return any((n := normalize(a)) and f" {n} " in hay for a in answers)


def article_rank(retrieved_article_ids: list[str], gold: set[str]) -> int | None:
    """1-based rank of the first gold article among the retrieved articles (deduplicated, in order)."""
    seen: list[str] = []
    for aid in retrieved_article_ids:
        if aid in seen:
            continue
        seen.append(aid)
        if aid in gold:
            return len(seen)
    return None


def hit_at(rank: int | None, k: int) -> bool:
    return rank is not None and rank <= k


def reciprocal_rank(rank: int | None, k: int = 10) -> float:
    return 1.0 / rank if rank is not None and rank <= k else 0.0


def word_count(reply: str) -> int:
    """Words of the reply: citation markers, ellipses and dashes are not words."""
    return sum(any(ch.isalnum() for ch in token) for token in _MARKER.sub(" ", reply).split())


@dataclass
class Row:
    """One question's outcome for one pipeline: what results.json stores and report.md tabulates."""

    id: str
    question: str
    answerable: bool
    answer: str
    refused: bool
    correct: bool | None  # None for unanswerable questions
    rank: int | None  # None when no gold article was retrieved (or there are no gold articles)
    cited: list[str]  # article ids of the citations, in order
    cites_gold: bool | None  # None when there are no gold sources
    citation_precision: float | None  # None when nothing is cited or there are no gold sources
    words: int
    total_s: float  # the engine's own timings["total"]
    wall_s: float  # wall time around the call
    mode: str = ""
    tier: str = ""
    short_answer: str | None = None
    shown: bool | None = None  # answerable: accepted string and gold citation in what the answer or closest tier shows
    contains: bool | None = None  # answerable: accepted string anywhere in the reply, whatever the tier
    sentences: list = field(default_factory=list)  # generated answers: each sentence, its citations, supported or not
    notice: str = ""  # the engine's one sentence on a fallback or backend fault
    standalone_question: str = ""
    retrieved: list[str] = field(default_factory=list)  # article ids, deduplicated, best first (top 10)
    expected: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    error: str = ""

    def to_json(self) -> dict:
        return asdict(self)


def score(q: Question, answer: Answer, wall_s: float) -> Row:
    gold = set(q.sources)
    retrieved = [sp.passage.article_id for sp in answer.retrieved]
    rank = article_rank(retrieved, gold) if gold else None
    cited = [c.article_id for c in answer.citations]
    has_gold = bool(gold)
    tier = "refused" if answer.refused else answer.tier
    contains = contains_answer(answer.answer, q.answers) if q.answerable else None
    cites_gold = any(a in gold for a in cited) if has_gold else None
    return Row(
        id=q.id,
        question=q.question,
        answerable=q.answerable,
        answer=answer.answer,
        refused=bool(answer.refused),
        correct=bool(contains and tier == "answer") if q.answerable else None,
        rank=rank,
        cited=cited,
        cites_gold=cites_gold,
        citation_precision=(sum(a in gold for a in cited) / len(cited)) if has_gold and cited else None,
        words=word_count(answer.answer),
        total_s=float(answer.timings.get("total", wall_s)),
        wall_s=wall_s,
        mode=answer.mode,
        tier=tier,
        short_answer=getattr(answer, "short_answer", None),
        shown=bool(contains and tier in ("answer", "closest") and cites_gold is not False) if q.answerable else None,
        contains=contains,
        sentences=[x.to_json() for x in getattr(answer, "sentences", [])] if answer.mode == "generated" else [],
        notice=answer.notice,
        standalone_question=answer.standalone_question if answer.standalone_question != q.question else "",
        retrieved=list(dict.fromkeys(retrieved))[:10],
        expected=list(q.answers),
        sources=sorted(gold),
    )


def error_row(q: Question, message: str, wall_s: float) -> Row:
    """A question the pipeline raised on: scored as wrong, not refused, nothing retrieved."""
    return Row(
        id=q.id, question=q.question, answerable=q.answerable, answer="", refused=False,
        correct=False if q.answerable else None, rank=None, cited=[], cites_gold=False if q.sources else None,
        citation_precision=None, words=0, total_s=wall_s, wall_s=wall_s, mode="error", tier="error",
        expected=list(q.answers), sources=sorted(set(q.sources)), error=message,
    )  # fmt: skip


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def summarize(rows: list[Row]) -> dict:
    answerable = [r for r in rows if r.answerable]
    unanswerable = [r for r in rows if not r.answerable]
    with_gold = [r for r in answerable if r.sources]
    cited = [r for r in with_gold if r.citation_precision is not None]
    answered = [r for r in rows if not r.refused and r.mode != "error"]
    out: dict = {
        "questions": len(rows),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "errors": sum(1 for r in rows if r.error),
    }
    for k in KS:
        out[f"hit@{k}"] = _mean([float(hit_at(r.rank, k)) for r in with_gold])
    out["mrr@10"] = _mean([reciprocal_rank(r.rank) for r in with_gold])
    out["answer_accuracy"] = _mean([float(bool(r.correct)) for r in answerable])
    out["answered_right"] = _mean([float(bool(r.correct) and r.cites_gold is not False) for r in answerable])
    out["shown"] = _mean([float(bool(r.shown)) for r in answerable])
    out["closest_tier"] = _mean([float(r.tier == "closest") for r in rows])
    out["unanswerable_confident"] = _mean([float(r.tier == "answer") for r in unanswerable])
    out["citation_accuracy"] = _mean([float(bool(r.cites_gold)) for r in with_gold])
    out["citation_precision"] = _mean([r.citation_precision for r in cited])
    out["refusal_accuracy"] = _mean([float(r.tier != "answer") for r in unanswerable])  # kept out of the answer tier
    out["false_refusals"] = _mean([float(r.tier == "refused") for r in answerable])
    for name, values in (("latency", [r.total_s for r in rows]), ("wall", [r.wall_s for r in rows])):
        for p in (50, 95):
            v = percentile(values, p)
            out[f"{name}_p{p}_s"] = round(v, 3) if v is not None else None
    out["median_words"] = statistics.median([r.words for r in answered]) if answered else None
    return out


def failures(rows: list[Row], k: int = 5) -> list[Row]:
    """Rows worth a look: wrong or refused answerable, unrefused unanswerable, gold not in the top k, errors."""
    return [
        r
        for r in rows
        if r.error
        or (r.answerable and (not r.correct or (r.sources and not hit_at(r.rank, k))))
        or (not r.answerable and r.tier == "answer")
    ]
