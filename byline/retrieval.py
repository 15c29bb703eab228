"""Hybrid retrieval: vector and BM25 candidates fused by reciprocal rank, then a cross-encoder rerank.

The fusion is the textbook RRF over two ranked lists we already hold; llama-index's
QueryFusionRetriever would add LLM query generation and async plumbing that we do not use.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from byline.config import Settings
from byline.store import Store
from byline.types import ScoredPassage

RRF_K = 60


@dataclass
class Retrieval:
    passages: list[ScoredPassage]  # reranked, best first
    timings: dict[str, float] = field(default_factory=dict)


class Retriever:
    def __init__(self, settings: Settings, store: Store, embedding, cross_encoder):
        self.settings = settings
        self.store = store
        self.embedding = embedding
        self.cross_encoder = cross_encoder

    def retrieve(self, query: str, rerank_k: int | None = None, question_date: str | None = None) -> Retrieval:
        s = self.settings
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        vector_hits = self.store.vector_search(self.embedding.embed_query(query), s.vector_k)
        t1 = time.perf_counter()
        bm25_hits = self.store.bm25().search(query, s.bm25_k)
        t2 = time.perf_counter()
        timings["vector"], timings["bm25"] = t1 - t0, t2 - t1

        fused: dict[str, float] = {}
        vrank = {pid: r for r, (pid, _) in enumerate(vector_hits)}
        brank = {pid: r for r, (pid, _) in enumerate(bm25_hits)}
        for ranks in (vrank, brank):
            for pid, r in ranks.items():
                fused[pid] = fused.get(pid, 0.0) + 1.0 / (RRF_K + r + 1)
        top = sorted(fused, key=fused.get, reverse=True)[: rerank_k or s.rerank_k]
        found = self.store.get_passages(top)
        candidates = [
            ScoredPassage(found[pid], fused[pid], vrank.get(pid), brank.get(pid)) for pid in top if pid in found
        ]
        t3 = time.perf_counter()
        if candidates:
            scores = self.cross_encoder.score(query, [f"{c.passage.title}. {c.passage.text}" for c in candidates])
            for c, sc in zip(candidates, scores):
                c.score = float(sc)
            candidates.sort(key=lambda c: c.score, reverse=True)
        timings["rerank"] = time.perf_counter() - t3
        timings["retrieval"] = time.perf_counter() - t0
        return Retrieval(candidates, timings)
