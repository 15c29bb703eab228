"""Hybrid retrieval: vector and BM25 candidates, read against the question date, fused by
reciprocal rank and ranked by article.

Choices measured on the RealTimeQA dev set (103 questions, 3,784 articles; docs/EVALUATION.md):
- The question date is the strongest signal for news: with it, only articles published in the
  `recency_days` before it (or the day after, for time zones) are candidates. hit@5 0.75 → 0.91.
- Articles, not passages, are ranked: an article scores the (decaying) sum of the RRF scores of its
  three best passages, and each article appears once, with its best passage, before any second passages. A
  long article no longer fills the top five with near-duplicates. hit@5 0.91 → 0.95, MRR 0.85.
- No cross-encoder rerank of whole passages here: on these questions it lowered MRR (0.85 → 0.76)
  and cost 0.37 s for 12 passages. The cross-encoder scores sentences in answer.py instead.
The fusion is the textbook RRF over two ranked lists we already hold; llama-index's
QueryFusionRetriever would add LLM query generation and async plumbing that we do not use.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from byline.config import Settings
from byline.store import Store
from byline.dates import published_day
from byline.types import ScoredPassage

# Tuned together on RealTimeQA dev and evals/bundled.jsonl (docs/EVALUATION.md): MRR@10 0.833 → 0.858
# and 0.815 → 0.858, hit@5 unchanged. A smaller k trusts the top ranks more; the vector side, which
# embeds each article's lead, is the better judge of what an article is about.
RRF_K = 20
VECTOR_WEIGHT = 1.5
PASSAGES_PER_ARTICLE_SCORE = 3  # an article's score: its best three passages, each counting
PASSAGE_DECAY = 0.8  # 0.8 times the one before it
# The leading article is read whole by the answer step: the passage that best matches the
# question's words is often not the one holding the date or number asked for (check3_realtimeqa:
# in 14 of 37 answerable questions the gold article ranked first or second but the answer's
# passage was not among the 12 candidates). One article, not two: on the tuning sets two placed
# 1 more question right of 452 and cost the bundled set one (docs/EVALUATION.md).
WHOLE_ARTICLES = 1


@dataclass
class Retrieval:
    passages: list[ScoredPassage]  # best first: one passage per article, then the runners-up
    rest: list[ScoredPassage] = field(default_factory=list)  # the leading articles' other passages, in text order
    timings: dict[str, float] = field(default_factory=dict)


class Retriever:
    def __init__(self, settings: Settings, store: Store, embedding):
        self.settings = settings
        self.store = store
        self.embedding = embedding

    def window(self, question_date: str | None) -> tuple[int, int] | None:
        day = published_day(question_date or "")
        if day is None:
            return None
        return (day - self.settings.recency_days, day + 1)

    def retrieve(self, query: str, k: int | None = None, question_date: str | None = None, window: tuple[int, int] | None = None) -> Retrieval:
        """`window` (ordinal days, both included) is an explicit publication range, searched as
        given; a `question_date` window falls back to the whole archive when nothing is in it."""
        s = self.settings
        timings: dict[str, float] = {}
        explicit = window is not None
        window = window or self.window(question_date)
        t0 = time.perf_counter()
        query_vector = self.embedding.embed_query(query)
        vector_hits, bm25_hits, t1 = self._search(query, query_vector, window)
        if window and not explicit and not vector_hits and not bm25_hits:
            vector_hits, bm25_hits, t1 = self._search(query, query_vector, None)  # nothing was published then: the whole archive
        t2 = time.perf_counter()
        timings["vector"], timings["bm25"] = t1 - t0, t2 - t1

        fused: dict[str, float] = {}
        vrank = {pid: r for r, (pid, _) in enumerate(vector_hits)}
        brank = {pid: r for r, (pid, _) in enumerate(bm25_hits)}
        for weight, ranks in ((VECTOR_WEIGHT, vrank), (1.0, brank)):
            for pid, r in ranks.items():
                fused[pid] = fused.get(pid, 0.0) + weight / (RRF_K + r + 1)
        top = rank_by_article(fused)[: k or s.rerank_k]
        leading = list(dict.fromkeys(pid.rsplit("#", 1)[0] for pid in top))[:WHOLE_ARTICLES]
        found = self.store.get_passages(top, whole=leading)
        candidates = [ScoredPassage(found[pid], fused[pid], vrank.get(pid), brank.get(pid)) for pid in top if pid in found]
        shown = set(top)
        rest = [ScoredPassage(p, fused.get(p.id, 0.0), vrank.get(p.id), brank.get(p.id)) for p in found.values() if p.id not in shown]
        rest.sort(key=lambda c: (leading.index(c.passage.article_id), c.passage.index))
        timings["fetch"] = time.perf_counter() - t2
        timings["retrieval"] = time.perf_counter() - t0
        return Retrieval(candidates, rest, timings)

    def _search(self, query: str, query_vector: list[float], window: tuple[int, int] | None):
        """Vector and BM25 hits inside the publication window (all when None), and when the vector side ended."""
        s = self.settings
        vector_hits = self.store.vector_search(query_vector, s.vector_k, window)
        vector_done = time.perf_counter()
        bm25_hits = self.store.keyword_search(query, s.bm25_k, window)
        return vector_hits, bm25_hits, vector_done


def rank_by_article(fused: dict[str, float]) -> list[str]:
    """Passage ids: the best passage of each article in article order, then the second best, …"""
    by_article: dict[str, list[str]] = {}
    for pid in sorted(fused, key=fused.get, reverse=True):
        by_article.setdefault(pid.rsplit("#", 1)[0], []).append(pid)
    score = {a: sum(fused[p] * PASSAGE_DECAY**i for i, p in enumerate(pids[:PASSAGES_PER_ARTICLE_SCORE])) for a, pids in by_article.items()}
    order = sorted(by_article, key=score.get, reverse=True)
    out: list[str] = []
    depth = 0
    while len(out) < len(fused):
        out.extend(by_article[a][depth] for a in order if depth < len(by_article[a]))
        depth += 1
    return out
