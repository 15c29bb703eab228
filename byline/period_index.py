"""The derived search data of one publication period: a BM25 index over its articles' passages,
their publication days, and its passages' vectors sorted by day (issue #16).

Why periods: one BM25 index over the whole archive costs every question a pass over every
posting of its words, and every change to the archive rebuilt all of it (89 s at 10× the
RealTimeQA corpus), on every machine sharing a Chroma server. Split by publication period, a
dated question reads only the periods its window touches, a change rebuilds only the periods it
touched, and a new machine builds a period the first time a question needs it. Each period has a
version token in the articles collection's metadata, replaced around every write that touches it
(store.py), so a cache is reused exactly as long as its period is unchanged.

The period is the calendar year: BM25's word weights are then computed over a year of news, close
to the whole-archive weights measured before (docs/EVALUATION.md, session 11, compares year and
month on the tuning sets). Articles without a date are their own period, read by every question.
"""

from __future__ import annotations

import datetime as dt
import heapq
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from byline.bm25_index import BM25Index
from byline.dated_vectors import DatedVectors

UNDATED = "undated"
GRANULARITY = "year"  # "year" or "month"; measured in docs/EVALUATION.md (session 11)
DAYS_FILE = "published_days.json"
# With a window narrower than the period, search this many times deeper, then filter to the window.
# Measured on RealTimeQA dev with the whole-archive index (hit@5 unchanged from an exact filter).
DATED_DEPTH = 20


def period_of(day: int | None) -> str:
    if day is None:
        return UNDATED
    d = dt.date.fromordinal(day)
    return f"{d.year:04d}" if GRANULARITY == "year" else f"{d.year:04d}-{d.month:02d}"


def day_range(period: str) -> tuple[int, int] | None:
    """The first and last day of a period (ordinal, both included); None for the undated one."""
    if period == UNDATED:
        return None
    year, _, month = period.partition("-")
    if not month:
        return dt.date(int(year), 1, 1).toordinal(), dt.date(int(year), 12, 31).toordinal()
    first = dt.date(int(year), int(month), 1)
    after = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first.toordinal(), after.toordinal() - 1


def periods_for(window: tuple[int, int] | None, known: set[str]) -> list[str]:
    """The periods a question reads: those overlapping its window (all when None), and the undated."""
    if window is None:
        return sorted(known)
    out = []
    for p in sorted(known):
        span = day_range(p)
        if span is None or (span[0] <= window[1] and window[0] <= span[1]):
            out.append(p)
    return out


@dataclass
class PeriodIndex:
    bm25: BM25Index
    days: dict[str, int]  # article id → publication day
    vectors: DatedVectors  # this period's vectors, sorted by day (none for the undated period)
    span: tuple[int, int] | None

    @classmethod
    def build(cls, period: str, articles: list[tuple[str, list[str], int | None]], vectors: list[tuple[str, int, list[float]]]) -> "PeriodIndex":
        """`articles`: (article id, [(passage id, text to index)], publication day or None);
        `vectors`: (passage id, publication day, vector)."""
        ids, texts, days = [], [], {}
        for aid, passages, day in articles:
            if day is not None:
                days[aid] = day
            for pid, text in passages:
                ids.append(pid)
                texts.append(text)
        return cls(BM25Index.build(ids, texts), days, DatedVectors.build(vectors), day_range(period))

    def save(self, folder: Path) -> None:
        """Written whole to a temporary folder, then renamed: a reader never sees half of it."""
        tmp = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        self.bm25.save(tmp / "bm25", extra={})
        self.vectors.save(tmp / "vectors")
        (tmp / DAYS_FILE).write_text(json.dumps(self.days))
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)

    @classmethod
    def load(cls, folder: Path, period: str) -> "PeriodIndex | None":
        if not folder.is_dir():
            return None
        bm25, vectors = BM25Index.load(folder / "bm25"), DatedVectors.load(folder / "vectors")
        try:
            days = {k: int(v) for k, v in json.loads((folder / DAYS_FILE).read_text()).items()}
        except (OSError, ValueError, AttributeError):
            return None
        if bm25 is None or vectors is None:
            return None  # damaged: the caller rebuilds
        return cls(bm25, days, vectors, day_range(period))

    def keyword_search(self, query: str, k: int, window: tuple[int, int] | None) -> list[tuple[str, float]]:
        if window is None or self.span is None or (window[0] <= self.span[0] and self.span[1] <= window[1]):
            return self.bm25.search(query, k)  # the whole period is inside the window
        hits = self.bm25.search(query, k * DATED_DEPTH)
        return [(pid, s) for pid, s in hits if window[0] <= self.days.get(pid.rsplit("#", 1)[0], window[0]) <= window[1]][:k]


def merged(hit_lists: list[list[tuple[str, float]]], k: int) -> list[tuple[str, float]]:
    """The k best of several periods' hits, by score (BM25 scores of periods are on the same scale
    to within their word weights; cosine similarities exactly)."""
    return heapq.nlargest(k, (h for hits in hit_lists for h in hits), key=lambda h: h[1])
