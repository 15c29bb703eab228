"""Split an article into sentence-aligned passages that keep exact character offsets.

Why not llama-index's SentenceSplitter: it rebuilds chunk text from joined splits and finds
offsets by searching, which drifts on scraped text with odd whitespace. A citation must point at
the exact sentence, so passages here are slices of the cleaned text between punkt sentence spans.
"""

from __future__ import annotations

from collections.abc import Callable

from byline.nltk_data import sentence_spans
from byline.types import Article, Passage

TokenCounter = Callable[[list[str]], list[int]]


def word_token_estimate(texts: list[str]) -> list[int]:
    """Roughly WordPiece tokens per text: words plus a third (punctuation, split words)."""
    return [int(len(t.split()) * 1.33) + 1 for t in texts]


def split_article(
    article: Article, max_tokens: int = 128, overlap_sentences: int = 1, count_tokens: TokenCounter = word_token_estimate
) -> list[Passage]:
    spans = sentence_spans(article.text)
    if not spans:
        return []
    sizes = count_tokens([article.text[s:e] for s, e in spans])
    groups: list[tuple[int, int]] = []  # [first, last] sentence index, inclusive
    first = 0
    while first < len(spans):
        last, total = first, sizes[first]
        while last + 1 < len(spans) and total + sizes[last + 1] <= max_tokens:
            last += 1
            total += sizes[last]
        groups.append((first, last))
        if last + 1 >= len(spans):
            break
        # Step back for overlap, but always move forward.
        first = max(last + 1 - overlap_sentences, first + 1)
    passages = []
    for i, (a, b) in enumerate(groups):
        start, end = spans[a][0], spans[b][1]
        passages.append(
            Passage(
                id=f"{article.id}#{i}",
                article_id=article.id,
                index=i,
                text=article.text[start:end],
                start=start,
                end=end,
                title=article.title,
                source=article.source,
                url=article.url,
                published=article.published,
            )
        )
    return passages
