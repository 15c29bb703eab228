"""Sentence spans and stopwords from the NLTK data that llama-index-core ships in site-packages.

Nothing is downloaded: the data path is pinned to llama-index's `_static/nltk_cache`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=1)
def _data_dir() -> str:
    import importlib.util

    import nltk

    # Located without importing llama_index.core, which takes seconds.
    spec = importlib.util.find_spec("llama_index.core")
    path = str(Path(list(spec.submodule_search_locations)[0]) / "_static" / "nltk_cache")
    if path not in nltk.data.path:
        nltk.data.path.insert(0, path)
    return path


@lru_cache(maxsize=1)
def _punkt():
    _data_dir()
    from nltk.tokenize.punkt import PunktTokenizer

    return PunktTokenizer("english")


@lru_cache(maxsize=None)
def stopwords(lang: str = "english") -> frozenset[str]:
    """The language's stopwords as a set, built once: callers test membership word by word."""
    _data_dir()
    from nltk.corpus import stopwords as sw

    return frozenset(sw.words(lang))


# Scrapes often glue sentences without a space ("Istanbul.In this line"); punkt needs the space.
_GLUED = re.compile(r"(?<=[a-z][.!?])(?=[A-Z][a-z])")


# Scraped run-ons punkt keeps whole: a full stop before a lowercase word ("borders. three tracks"),
# or no stop at all before a capitalised sentence opener ("in January In January", "chatter We
# are"). Only sentences this long are cut, so ordinary title case ("The World on the Verge") stays.
RUN_ON_WORDS = 30
_MIN_PIECE_WORDS = 4
_OPENERS = frozenset(
    "in on at this that these those he she it its they we you his her their our but and so yet "
    "after before when while if as there here according".split()
)
_LOWER_AFTER_STOP = re.compile(r"\b([a-z]{3,})\. (?=[a-z])")
# "The" (not in _OPENERS) must be followed by a lowercase word: "in The Hague" and "The New York
# Times" are names.
_OPENER_NO_STOP = re.compile(r"(?<=[\w)]) (?:(The)(?= [a-z])|([A-Z][a-z]*)\b)")


def _run_on_cuts(sentence: str) -> list[int]:
    """Offsets inside one long sentence where a glued next sentence starts."""
    abbreviations = _punkt()._params.abbrev_types
    cuts = [m.end() for m in _LOWER_AFTER_STOP.finditer(sentence) if m.group(1) not in abbreviations]
    cuts += [m.start() + 1 for m in _OPENER_NO_STOP.finditer(sentence) if m.group(1) or (m.group(2) or "").lower() in _OPENERS]
    kept: list[int] = []
    for cut in sorted(cuts):
        before = sentence[kept[-1] if kept else 0 : cut]
        if len(before.split()) >= _MIN_PIECE_WORDS and len(sentence[cut:].split()) >= _MIN_PIECE_WORDS:
            kept.append(cut)
    return kept


_SHORT_QUOTE_END = 6  # words after a stop before the quote closes: "the program ‘Moscow. Kremlin. Putin.’"
# A closing quotation mark; ’ doubles as the apostrophe ("it’s"), so only a ’ not followed by a letter.
CLOSING_QUOTE = re.compile(r"[”’](?![A-Za-z])")


def open_quote(text: str) -> bool:
    """True when the last quotation mark opens a quote. ’ doubles as the apostrophe ("it’s"), so
    only a ’ not followed by a letter closes one."""
    marks = re.findall(r"[“”‘]|’(?![A-Za-z])", text)
    return bool(marks) and marks[-1] in "“‘"


def _rejoin_short_quotes(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Joins sentences punkt cut inside a short quoted title back together."""
    out: list[tuple[int, int]] = []
    i = 0
    while i < len(spans):
        a, b = spans[i]
        i += 1
        if open_quote(text[a:b]):
            line_end = text.find("\n", b)
            rest = text[b : len(text) if line_end < 0 else line_end]
            closing = CLOSING_QUOTE.search(rest)
            if closing and len(rest[: closing.start()].split()) <= _SHORT_QUOTE_END:
                limit = b + closing.end()
                while i < len(spans) and spans[i][0] < limit:
                    b = spans[i][1]
                    i += 1
        out.append((a, b))
    return out


# Abbreviations punkt's English model cuts after: "ranked No. 49" became "ranked No." and "49 in
# the world." (replies_check4 w54: a capable model's right answer lost its citation). "No." joins
# a number only; the titles join a capitalised name ("Gov. Newsom", "Sen. Smith").
_NUMBER_ABBREVIATION = re.compile(r"\b(?:No|Nos|Nr|Vol|pp?)\.$")
_TITLE_ABBREVIATION = re.compile(r"(?<![\w.])(?:Gov|Govs|Sen|Sens|Rep|Reps|Sgt|Capt|Cpl|Pvt|Prof|Supt|Insp|Det|Amb|Rev|Hon|Pres)\.$")


def join_abbreviations(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Spans with a cut after "No." (before a number) or a title (before a name) undone."""
    out: list[tuple[int, int]] = []
    for a, b in spans:
        if out:
            prev = text[out[-1][0] : out[-1][1]]
            nxt = text[a:b]
            gap = text[out[-1][1] : a]
            if "\n" not in gap and ((_NUMBER_ABBREVIATION.search(prev) and nxt[:1].isdigit()) or (_TITLE_ABBREVIATION.search(prev) and nxt[:1].isupper())):
                out[-1] = (out[-1][0], b)
                continue
        out.append((a, b))
    return out


def sentence_spans(text: str, quotable: bool = False) -> list[tuple[int, int]]:
    """(start, end) character spans of the sentences of `text`, split on paragraphs first.

    `quotable`: sentences as the answer step quotes them, with a short quoted title that punkt cut
    at its full stops joined again and run-ons of RUN_ON_WORDS or more cut where a glued sentence
    starts. Chunking does not ask for this, so stored passages keep their boundaries.
    """
    spans: list[tuple[int, int]] = []
    for para in re.finditer(r"[^\n]+", text):
        block = para.group()
        cuts = sorted({0, *(m.start() for m in _GLUED.finditer(block))})
        for i, cut in enumerate(cuts):
            piece = block[cut : cuts[i + 1] if i + 1 < len(cuts) else len(block)]
            offset = para.start() + cut
            spans += [(offset + s, offset + e) for s, e in _punkt().span_tokenize(piece) if piece[s:e].strip()]
    if not quotable:
        return spans
    out: list[tuple[int, int]] = []
    for a, b in _rejoin_short_quotes(text, join_abbreviations(text, spans)):
        sentence = text[a:b]
        inner = [0, *(_run_on_cuts(sentence) if len(sentence.split()) >= RUN_ON_WORDS else [])]
        for j, x in enumerate(inner):
            y = inner[j + 1] if j + 1 < len(inner) else len(sentence)
            out.append((a + x, a + x + len(sentence[x:y].rstrip())))
    return out
