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


# Chat shorthand ("putin n biden", "talks w russia", "ppl", "govt"), written out so the
# cross-encoder and BM25, which read articles' words, see the words the article would use.
_SHORTHAND = {
    "n": "and", "&": "and", "w": "with", "w/": "with", "w/o": "without", "b4": "before", "u": "you", "ur": "your",
    "r": "are", "ppl": "people", "govt": "government", "gov": "government", "convo": "conversation",
    "pres": "president", "prez": "president", "intl": "international", "natl": "national", "dept": "department",
    "yr": "year", "yrs": "years", "hrs": "hours", "hr": "hour", "mins": "minutes", "min": "minutes", "approx": "approximately",
    "bc": "because", "cuz": "because", "thru": "through", "tho": "though", "abt": "about", "pls": "please", "vs": "versus",
    "whens": "when is", "wheres": "where is", "whos": "who is", "whats": "what is", "hows": "how is", "theres": "there is",
    "thats": "that is", "didnt": "did not", "doesnt": "does not", "dont": "do not", "isnt": "is not", "wasnt": "was not",
    "wont": "will not", "cant": "cannot", "wouldnt": "would not", "couldnt": "could not", "arent": "are not",
}
_TOKEN = re.compile(r"(?<![\w/&])(?:w/o|w/|[A-Za-z][A-Za-z0-9]*|&)(?![\w/])")
# Titles typed as initials ("name of russia's FM", "the uk pm", "biden's vp"): news writes them
# out, so the name gate would refuse "FM" as a name no passage mentions (check5_bundled q17), and
# neither BM25 nor the cross-encoder reads "FM" as "foreign minister". Any case; "PM" after a
# number is a time of day.
_TITLES = {
    "fm": "foreign minister", "pm": "prime minister", "vp": "vice president", "potus": "US president",
    "scotus": "Supreme Court", "secstate": "secretary of state", "secgen": "secretary general",
    "spox": "spokesperson", "amb": "ambassador",
}


def written(question: str) -> str:
    """The question as an article would word it, for search and scoring: contractions and chat
    shorthand spelled out ("whens putin n biden's next call" → "when is putin and biden's next
    call"), titles typed as initials too ("russia's FM" → "russia's foreign minister"). Words of
    one letter are spelled out only where they stand alone."""
    def repl(m: re.Match) -> str:
        word = m.group(0)
        title = _TITLES.get(word.lower())
        if title and (word.islower() or word.isupper()) and not re.search(r"\d\s*$", m.string[: m.start()]) and not re.match(r"\s+(?:radio|station)\b", m.string[m.end() :], re.IGNORECASE):
            return title
        return _SHORTHAND.get(word.lower(), word) if word.islower() or word.lower() in ("w/", "w/o", "&") else word

    return re.sub(r"\s+", " ", _TOKEN.sub(repl, spelled_out(question))).strip()


_POSSESSIVE = re.compile(r"['’]s$")


def content_words(text: str) -> list[str]:
    stop = stopwords("english")
    # A possessive is its noun ("stoltenberg's" is "stoltenberg"): kept, the Porter stem
    # "stoltenberg'" matched no sentence, so "whats stoltenberg's job" left his sentence unread.
    return [w for w in (_POSSESSIVE.sub("", t.lower()).strip("'’.,-") for t in WORD.findall(text)) if w and w not in stop and len(w) > 2 or w.isdigit()]


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
