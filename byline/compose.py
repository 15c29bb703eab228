"""Composing the answer the user reads from ranked evidence: in the `answer` tier a short answer
first (the date, name, number or place), then the supporting sentence quoted and cited; in the
`closest` tier one line saying so and the two or three best sentences, each cited. Citations are
attached here, by code, with the sentence's offsets inside its passage for highlighting.
"""

from __future__ import annotations

import re
from typing import Protocol

from byline.facts import answer_kind, expected_kind, has_kind, spans
from byline.nltk_data import CLOSING_QUOTE, open_quote, sentence_spans
from byline.places import countries_named
from byline.types import Citation, ScoredPassage
from byline.words import squash

# Words a quote keeps of a longer sentence or pair. With 40 (issue #5's aim for the median answer)
# the quote held an accepted answer in 612 of 760 answer-tier replies of 18 tuning sets; with 60 in
# 633, no set losing one (50: 623, 80: 639 with a p90 of 69 words). The median answer was 44–49
# words already, as most best units are pairs.
MAX_QUOTE_WORDS = 60
QUOTE_WINDOW_STRIDE = 3  # words between the candidate windows of a run-on sentence
QUOTE_CLOSE_WORDS = 8  # a quote window grows by up to this many words to close a quoted title
QUOTE_FINISH_WORDS = 8  # a quote window this close to the end of its sentence slides to end with it
KIND_BONUS = 2.0  # logits for a quote window holding the kind of fact asked for (the ranking's bonus)
# Words whose day depends on when the article was written ("yesterday", "this week", "on Tuesday").
_RELATIVE_TIME = re.compile(
    r"\b(?:yesterday|today|tonight|tomorrow|(?:this|last|next) (?:week|weekend|month|year|night|morning|evening)|"
    r"(?:on |last |next )?(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday))\b",
    re.IGNORECASE,
)
CLOSEST_SHOWN = 3  # sentences shown in the `closest` tier (issue #12: "the 2–3 best sentences")
CLOSEST_LINE = "The articles don't say this directly; these passages come closest:"
REFUSAL_TEXT = "The articles don't cover this question."


class Unit(Protocol):
    passage_rank: int
    start: int
    end: int
    text: str


def citation(n: int, sp: ScoredPassage, start: int, end: int) -> Citation:
    p = sp.passage
    return Citation(n, p.article_id, p.title, p.url, p.published, p.source, p.text, round(sp.score, 3), p.id, start, end)


# Kinds whose short answer is reliable enough to lead (answer-tier questions of the tuning sets:
# dates 14 of 17, counts 19 of 22, durations 2 of 2 right; people 3 of 15, places 5 of 11 and
# cities 0 of 2, so those lead with the quote alone until a named-entity model ships).
SHORT_KINDS = ("date", "count", "duration")


def short_answer(question: str, quote: str, cross_encoder) -> str | None:
    """The piece of the quote that answers: "June 2021", "50 minutes", "$44 billion".

    Of several candidates, the one whose removal costs the quote most of its cross-encoder score
    against the question: the piece the question is about (first found: 29 of 41 right; this: 35)."""
    kind = answer_kind(question)
    if kind not in SHORT_KINDS:
        return None
    found = spans(quote, kind, question)
    if len(found) <= 1:
        return found[0] if found else None
    masked = cross_encoder.score(question, [quote.replace(f, " ") for f in found], batch_size=len(found))
    return found[min(range(len(found)), key=lambda i: float(masked[i]))]


def as_of(quote: str, published: str) -> str:
    """" (as of 2022-01-01)" when the quote says "yesterday", "this week", … and its article's date
    is known, so the reader can tell which day that was; otherwise ""."""
    return f" (as of {published[:10]})" if published and _RELATIVE_TIME.search(quote) else ""


def confident(question: str, passages: list[ScoredPassage], best: Unit, cross_encoder) -> tuple[str, str | None, list[Citation]]:
    """Text, short answer and citation of the `answer` tier: "June 2021 — “…” [1]"."""
    quote, a, b = quote_span(best.text, question, cross_encoder)
    source = passages[best.passage_rank]
    short = short_answer(question, quote, cross_encoder)
    # A quote often names its subject only as "the show" or "the company"; the headline names it.
    title = source.passage.title.strip()
    lead = f"{title} — " if title and names_something_new(title, f"{quote} {question}") else ""
    if country := country_answer(quote, question):
        lead = f"{country} — "
    elif short:
        lead = f"{short} — "
    return f"{lead}“{quote}” [1]{as_of(quote, source.passage.published)}", short, [citation(1, source, best.start + a, best.start + b)]


def closest(question: str, passages: list[ScoredPassage], units: list[Unit], cross_encoder) -> tuple[str, list[Citation]]:
    """The best sentences, not overlapping one another, each cited: what the user can judge."""
    shown: list[Unit] = []
    for u in units:
        if any(u.passage_rank == s.passage_rank and u.start < s.end and s.start < u.end for s in shown):
            continue
        shown.append(u)
        if len(shown) == CLOSEST_SHOWN:
            break
    cites: list[Citation] = []
    lines = [CLOSEST_LINE]
    by_passage: dict[int, int] = {}
    for u in shown:
        quote, a, b = quote_span(u.text, question, cross_encoder)
        n = by_passage.get(u.passage_rank)
        if n is None:
            n = by_passage[u.passage_rank] = len(cites) + 1
            cites.append(citation(n, passages[u.passage_rank], u.start + a, u.start + b))
        lines.append(f"- “{quote}” [{n}]{as_of(quote, passages[u.passage_rank].passage.published)}")
    return "\n".join(lines), cites


def country_answer(quote: str, question: str) -> str:
    """For "which country", the one country the quote names that the question does not, said
    plainly: "Ukrainian first lady Olena Zelenska …" answers "Ukraine"."""
    if expected_kind(question) != "country":
        return ""
    new = countries_named(quote) - countries_named(question)
    return new.pop() if len(new) == 1 else ""


def names_something_new(title: str, seen: str) -> bool:
    """True when the headline has a capitalised word or a number that `seen` lacks."""
    have = set(re.sub(r"[^a-z0-9 ]", " ", seen.lower()).split())
    words = [t.lstrip("'\"‘“(") for t in title.split()]
    return any(squash(t) not in have for t in words if t[:1].isupper() or t[:1].isdigit())


def quote_of(sentence: str, question: str, cross_encoder) -> str:
    return quote_span(sentence, question, cross_encoder)[0]


def quote_span(sentence: str, question: str, cross_encoder) -> tuple[str, int, int]:
    """A sentence, or for a run-on scrape sentence (or a long pair) the window of it that the
    cross-encoder finds most relevant, preferring windows that hold the kind of fact asked for;
    with its character offsets inside `sentence`, for the highlight.
    Word-overlap windows lost the answer in 4 of 13 bundled misses; these keep it more often.
    A long pair's own sentences are candidates too, and a "who" question prefers a window naming
    someone it does not (session 14: of 18 answer-tier replies of the tuning sets that lost an
    answer their evidence held, most lost it to a 40-word window of a pair, as "… later
    confirmed" cut "State Department spokesman Ned Price")."""
    tokens = [m.span() for m in re.finditer(r"\S+", sentence)]  # the words, as offsets
    words = [sentence[a:b] for a, b in tokens]
    if len(words) <= MAX_QUOTE_WORDS:
        stripped = sentence.strip()
        a = sentence.find(stripped)
        return stripped, a, a + len(stripped)
    starts = list(range(0, len(words) - MAX_QUOTE_WORDS + 1, QUOTE_WINDOW_STRIDE))
    if starts[-1] != len(words) - MAX_QUOTE_WORDS:
        starts.append(len(words) - MAX_QUOTE_WORDS)
    windows = [" ".join(words[i : i + MAX_QUOTE_WORDS]) for i in starts]
    # The sentence has more words than a window, so any of its sentences that fits is one of several.
    whole = [(a, b) for a, b in sentence_spans(sentence, quotable=True) if len(sentence[a:b].split()) <= MAX_QUOTE_WORDS]
    texts = windows + [sentence[a:b] for a, b in whole]
    kind, asked = expected_kind(question), answer_kind(question)

    def bonus(w: str) -> float:
        if kind:
            return KIND_BONUS if has_kind(w, kind, question) else 0.0
        return KIND_BONUS if asked == "person" and spans(w, "person", question) else 0.0

    scores = [float(sc) + bonus(w) for sc, w in zip(cross_encoder.score(question, texts, batch_size=len(texts)), texts)]
    best = max(range(len(texts)), key=scores.__getitem__)
    if best >= len(windows):
        a, b = whole[best - len(windows)]
        return sentence[a:b], a, b
    i = best
    last = len(starts) - 1
    # End where the sentence ends ("… while Putin has not …" had cut "yet decided") unless the
    # words that slide out at the start hold the kind of fact asked for ("About 79% of …") or
    # name the person a "who" question asks for ("State Department spokesman Ned Price …"; any
    # new name kept the start too: 5 answers lost on the bundled sets, "… Group of Twenty …").
    if len(words) - (starts[i] + MAX_QUOTE_WORDS) <= QUOTE_FINISH_WORDS and not bonus(" ".join(words[starts[i] : starts[last]])):
        i = last
    end = starts[i] + MAX_QUOTE_WORDS
    # Never stop inside a short quoted title ("the documentary “The World on the …”").
    closes = next((j for j in range(end, min(len(words), end + QUOTE_CLOSE_WORDS)) if CLOSING_QUOTE.search(words[j])), None)
    if closes is not None and open_quote(" ".join(words[starts[i] : end])):
        end = closes + 1
    a, b = tokens[starts[i]][0], tokens[end - 1][1]
    return ("… " if starts[i] > 0 else "") + " ".join(words[starts[i] : end]) + (" …" if end < len(words) else ""), a, b
