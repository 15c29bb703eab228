"""Kinds of fact: which kind a question asks for (a date, a count, a duration, a place, a quotation,
a person), whether a sentence states it, and the span that states it, for the short answer.

Regular expressions and GeoNames place lists (`places.py`); docs/ARCHITECTURE.md says why these
and not a named-entity model.
"""

from __future__ import annotations

import re

from byline.nltk_data import stopwords
from byline.places import CALENDAR_WORDS, countries_named, place_names
from byline.words import spelled_out, squash

MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
_MONTH_WORDS = frozenset(MONTHS.split("|"))
_WEEKDAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
DATE_RE = re.compile(
    rf"\b(?:{MONTHS})\b|\b(?:19|20)\d\d\b|\b\d{{1,2}}[/.]\d{{1,2}}[/.]\d{{2,4}}\b|\b(?:{_WEEKDAYS}|yesterday|today|tomorrow|tonight)\b|\b(?:last|next|this) (?:week|month|year)\b|\b(?:early|mid|late)-?\s?(?:{MONTHS})\b|\bnew year\b",
    re.IGNORECASE,
)
NUMBER_WORDS = r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|hundred|hundreds|thousand|thousands|million|millions|billion|billions|dozen|dozens|half|several|few"
_COUNT_RE = re.compile(rf"\b(?!(?:19|20)\d\d\b)\d[\d,.]*\b|\b(?:{NUMBER_WORDS})\b", re.IGNORECASE)
DURATION_RE = re.compile(
    rf"\b(?:\d[\d,.]*|an?|{NUMBER_WORDS})[\s-]+(?:\w+[\s-]+)?(?:seconds?|minutes?|hours?|days?|weeks?|months?|years?|decades?)\b",
    re.IGNORECASE,
)
# "in Geneva", "at the Kremlin", "near Kharkiv": a place GeoNames may not list (regions, buildings, small towns).
_PLACE_PHRASE = re.compile(rf"\b(?i:in|at|near|outside|inside)\s+(?:the\s+)?(?!(?i:{CALENDAR_WORDS})\b)([A-Z][\w’'-]*(?:\s+[A-Z][\w’'-]*)*)")
# Direct speech: a quotation mark close to a verb of saying, before or after it, in one sentence
# ("Biden said “we’ll see”", "“Let’s see,” he said"); a quotation elsewhere in a pair does not count.
_SAYING = r"(?:say|says|said|tell|tells|told|add|adds|added|state|states|stated|repl(?:y|ies|ied)|answer(?:s|ed)?|ask(?:s|ed)?|note(?:s|d)?|wr(?:ite|ites|ote)|explain(?:s|ed)?|declare(?:s|d)?|according to)"
_QUOTATION = re.compile(rf"\b{_SAYING}\b[^.!?“”\"«»]{{0,60}}[“\"«‘]|[”\"»’][^.!?“”\"«»]{{0,40}}\b{_SAYING}\b", re.IGNORECASE)
_MONTH_NAME = re.compile(r"\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\b")
NAME_RUN = re.compile(r"[A-Z][\w’'.-]*(?:\s+(?:of\s+(?:the\s+)?)?[A-Z][\w’'.-]*)*")
_INSTITUTION = re.compile(r"\b(?:Kremlin|White House|Ministry|Department|Council|Committee|Commission|Office|Agency|Union|Organization|Organisation|Party|Court|Congress|Senate|House|Parliament|Government|Times|Post|News|Press|University|Bank|Group|Company|Inc|Corp|Ltd|NATO|UN|EU|US|USA|UK)\b")
PROSPECTIVE = re.compile(r"\b(?:will|could|may|might|shall|(?:plans?|planning|intends?|expected|yet) to|not yet|undecided)\b", re.IGNORECASE)

# Short-answer spans, most specific first: a full date before a month alone.
_M = rf"(?:{MONTHS})\.?"
_DATE_SPAN = re.compile(
    rf"\b(?:(?:{_WEEKDAYS}),?\s+)?(?:{_M}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:(?:,|\s+and)\s+\d{{1,2}}(?:st|nd|rd|th)?)*(?:,?\s+(?:19|20)\d\d)?"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_M}(?:,?\s+(?:19|20)\d\d)?"
    rf"|(?:early|mid|late)?-?\s?{_M}(?:\s+of)?\s+(?:19|20)\d\d|{_M}|(?:19|20)\d\d|(?:{_WEEKDAYS}))\b",
    re.IGNORECASE,
)
_MONEY_OR_COUNT_SPAN = re.compile(
    rf"(?:[$€£]\s?)?\b(?:\d(?:[\d,.]*\d)?|{NUMBER_WORDS})(?:\s*(?:%|percent\b|per cent\b))?(?:[\s-]+(?:million|billion|trillion|thousand|hundred))?(?:\s+(?!(?:and|or|of|to|in|on|at|the|a|an|for|by|with|from)\b)[a-z][a-z-]+)?",
    re.IGNORECASE,
)


# The kind of fact a question asks for, by its wording; the first match wins.
_KIND_PATTERNS = [
    (re.compile(r"^(when\b|(on |in |by )?(what|which) (dates?|days?|year|month|time)\b)"), "date"),
    # A quiz question may put a preposition first ("By how much did …", "For how long …").
    (re.compile(r"^(for )?how long\b"), "duration"),
    (re.compile(r"^((by|to|in|for|of|from|at|with|on) )?(how (many|much|old|far)\b|what (percentage|number|share|amount)\b)"), "count"),
    (re.compile(r"\b(which|what) (city|cities|town|capital)\b"), "city"),
    (re.compile(r"\b(which|what) (country|countries|nation)\b"), "country"),
    (re.compile(r"^where\b"), "place"),
    (re.compile(r"^what did .+ (say|tell|reply|answer|write|tweet)\b"), "quote"),
]

def expected_kind(question: str) -> str | None:
    return next((kind for q in _question_openings(question) for pattern, kind in _KIND_PATTERNS if pattern.search(q)), None)


_OPENING_FILLER = re.compile(r"^(?:(?:and|also|but|so|ok|okay|n|then|well|oh|hmm+|right)\b[\s,.]*)+")


def _question_openings(question: str) -> list[str]:
    """Where the asking may start: the whole question, its last sentence, and what follows each
    comma in it, without a leading "approximately" — quiz questions put the question word after a
    preamble ("A Russian court ruled … . How many months …?", "According to a poll, what
    percentage …", "Approximately how many …")."""
    # "wheres …" asks where, "whats …" what; a follow-up often opens with a conjunction or a
    # filler ("and how many states sued?", "so when was that", "ok who won"): the asking starts after it.
    q = _OPENING_FILLER.sub("", spelled_out(question).lower())
    own = re.sub(r"\s*\(about:.*\)$", "", q)  # a follow-up's conversation is not its question
    last = re.split(r"(?<=[.?!])\s+", own)[-1]
    tails = [last] + [last[m.end() :] for m in re.finditer(r",\s+", last)]
    return [q] + [re.sub(r"^(?:approximately|roughly|about|on average|nearly|almost)\s+", "", t) for t in tails]


def asks_what_happened(question: str) -> bool:
    """A yes/no question about the past ("Did … ?"), which a forecast does not answer."""
    return bool(re.match(r"^\s*did\b", question, re.IGNORECASE))


def months(text: str) -> set[str]:
    return {m.group(1) for m in _MONTH_NAME.finditer(text) if m.group().lower() in _MONTH_WORDS}


def has_kind(text: str, kind: str | None, question: str = "") -> bool:
    """Whether `text` states the kind of fact asked for. A date asked for within a month ("on what
    date in December …") must be in that month: "in January" does not answer it."""
    if kind == "duration":
        return bool(DURATION_RE.search(text))
    if kind == "date":
        asked = months(question)
        return bool(DATE_RE.search(text)) and (not asked or bool(asked & months(text)))
    if kind == "count":
        # A count must not be only a day of a date ("June 16") or a year.
        stripped = re.sub(rf"\b(?:{MONTHS})\s+\d{{1,2}}\b|\b\d{{1,2}}\s+(?:{MONTHS})\b", " ", text, flags=re.IGNORECASE)
        return bool(_COUNT_RE.search(stripped))
    if kind in ("city", "country", "place"):
        cities, countries = place_names(text, located=kind != "country")
        if kind == "city":
            return bool(cities)
        if kind == "country":
            return bool(countries)
        return bool(cities or countries or _PLACE_PHRASE.search(text))
    if kind == "quote":
        return bool(_QUOTATION.search(text))
    return True


def answer_kind(question: str) -> str | None:
    """The kind whose span leads the answer: the kind asked for, or a person for "who" questions
    (not used to rank sentences: without a tagger too many capitalised words look like people)."""
    kind = expected_kind(question)
    if kind is None and any(re.match(r"^who(?:m|se)?\b", q) for q in _question_openings(question)):
        return "person"
    return kind


def spans(text: str, kind: str | None, question: str = "", strict: bool = True) -> list[str]:
    """The pieces of `text` that state the kind of fact asked for, best first. `strict` leaves out
    what the question itself says ("When was the summit in June 2021?" is not answered by "2021")."""
    if kind is None:
        return []
    asked = _question_tokens(question) if strict else set()
    if kind == "duration":
        found = [m.group() for m in DURATION_RE.finditer(text)]
    elif kind == "date":
        want = months(question)
        if not DATE_RE.search(text) or (want and not want & months(text)):
            return []
        found = [m.group().strip(" ,") for m in _DATE_SPAN.finditer(text)] or [m.group() for m in DATE_RE.finditer(text)]
        found = sorted(found, key=lambda s: -len(s))  # "December 7, 2021" before "2021"
    elif kind == "count":
        # A count must not be only a day of a date ("June 16") or a year.
        stripped = re.sub(rf"\b(?:{MONTHS})\s+\d{{1,2}}\b|\b\d{{1,2}}\s+(?:{MONTHS})\b", " ", text, flags=re.IGNORECASE)
        if not _COUNT_RE.search(stripped):
            return []
        found = [f for m in _MONEY_OR_COUNT_SPAN.finditer(stripped) if (f := m.group().strip(" .,")) and not re.fullmatch(r"(?:19|20)\d\d(?:\s+\w+)?", f)]
    elif kind in ("city", "country", "place"):
        cities, countries = place_names(text, located=kind != "country")
        if kind == "country":
            countries |= countries_named(text)
        found = sorted(cities) if kind == "city" else sorted(countries) if kind == "country" else sorted(cities | countries)
        # As the text writes them, in the order it names them (the lists are folded to lower case).
        found = sorted((m.group() for f in found if (m := re.search(rf"(?<!\w){re.escape(f)}(?!\w)", text, re.IGNORECASE))), key=text.find)
        if kind == "place" and not found:
            found = [m.group(1) for m in _PLACE_PHRASE.finditer(text)]
    elif kind in ("person", "organisation"):
        stop = stopwords("english")
        # Runs of capitalised words, cut at full stops ("Moscow. Kremlin. Putin." is three runs).
        runs = [r.strip(".’' ") for m in NAME_RUN.finditer(text) for r in re.split(r"\.\s+", m.group())]
        found = [r for r in runs if r and r.lower() not in stop and not re.fullmatch(rf"(?i:{CALENDAR_WORDS})", r)]
        if kind == "person":
            # A person is named as a first and last name, not as a place or an institution.
            found = [r for r in found if not any(place_names(w)[0] or place_names(w)[1] for w in r.split()) and not _INSTITUTION.search(r)]
            found = sorted(found, key=lambda r: -(2 if 2 <= len(r.split()) <= 3 else 1))
    elif kind == "quote":
        return [text] if _QUOTATION.search(text) else []
    else:
        return []
    if strict:
        found = [f for f in found if not _told_by_question(f, asked)]
    return list(dict.fromkeys(f for f in found if f))


def _question_tokens(question: str) -> set[str]:
    return {squash(w) for w in question.split() if squash(w)}


def _told_by_question(span: str, asked: set[str]) -> bool:
    words = [squash(w) for w in span.split() if squash(w)]
    return bool(words) and all(w in asked for w in words)
