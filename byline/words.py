"""Words as the answer layer compares them: content words, stems, squashed names."""

from __future__ import annotations

import re
from functools import lru_cache

from byline.nltk_data import stopwords

WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*|\d[\d,.:]*")

# Typed questions drop apostrophes and use contractions ("whats", "who's", "wheres"); the kind of
# fact asked for is read from the question word, so these are spelled out first.
_CONTRACTIONS = [
    (re.compile(r"\b(what|who|where|when|how|which|why)(?:['’]s|s)\b", re.IGNORECASE), r"\1 is"),
    (re.compile(r"\b(what|who|where|when|how|which|why)(?:['’]re)\b", re.IGNORECASE), r"\1 are"),
    (re.compile(r"\b(what|who|where|when|how|which|why)(?:['’]d)\b", re.IGNORECASE), r"\1 did"),
    (re.compile(r"\b(is|are|was|were|did|does|do|has|have|had|could|would|should|can)n['’]?t\b", re.IGNORECASE), r"\1 not"),
    (re.compile(r"\bwon['’]t\b", re.IGNORECASE), "will not"),
]


def spelled_out(question: str) -> str:
    """"whats stoltenberg's job" → "what is stoltenberg's job"; possessives stay."""
    text = question.strip()
    for pattern, repl in _CONTRACTIONS:
        text = pattern.sub(repl, text)
    return text


def content_words(text: str) -> list[str]:
    stop = stopwords("english")
    return [w for w in (t.lower().strip("'’.,-") for t in WORD.findall(text)) if w and w not in stop and len(w) > 2 or w.isdigit()]


def stem5(word: str) -> str:
    """A crude stem (first five letters), the one the generated-answer check and name gates use."""
    return word[:5] if not word[0].isdigit() else word.replace(",", "")


def squash(text: str) -> str:
    # "G20" matches "G-20", "US" matches "U.S.": compare letters and digits only.
    return re.sub(r"[^a-z0-9]", "", text.lower())


def porter_words(text: str) -> set[str]:
    return {porter(w) for w in content_words(text)}


@lru_cache(maxsize=50_000)
def porter(word: str) -> str:
    return _porter_stemmer().stem(word)


@lru_cache(maxsize=1)
def _porter_stemmer():
    from nltk.stem import PorterStemmer  # imported on first use: nltk.stem costs 0.4 s at start-up

    return PorterStemmer()


def name_tokens(text: str) -> set[str]:
    """Words as names are compared: squashed, possessive dropped, hyphenated parts also alone
    ("U.S.-Russia" → usrussia, us, russia). Whole words, so "Xi" is not found in "exists"."""
    tokens: set[str] = set()
    for word in re.sub(r"[’']s\b", "", text.lower()).split():
        tokens.add(squash(word))
        tokens.update(squash(part) for part in re.split(r"[-–—/]", word))
    return tokens
