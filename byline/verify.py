"""Checking a generated answer sentence by sentence against the passages it cites.

Two contracts, by the size of the model:
- a capable model (`openai`, `openai-compatible`, a larger local GGUF) answers in its own words;
  each sentence is kept, and is *supported* when the numbers, dates and names in it occur in a
  passage it cites (normalised: "50" ~ "fifty", "Dmitry" ~ "Dmitri", "Putin-Biden" holds "Biden")
  and the cross-encoder, reading the sentence as the query, finds a sentence of that passage that
  says it. A sentence citing the wrong passage is re-cited to one that supports it; one that no
  given passage supports is kept and marked unsupported.
- the packaged 135M model invents facts when it paraphrases, so every content word of its answer
  must be in the one sentence it was given (`small_model_supported`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import NamedTuple

from byline.facts import MONTHS
from byline.nltk_data import join_abbreviations, sentence_spans, stopwords
from byline.places import state_forms
from byline.words import WORD, content_words, name_tokens, squash, stem5

# The cross-encoder logit (claim as query, passage sentence or pair as passage) from which a
# sentence counts as said by the passage. Set at 0 on evals/replies.jsonl (the fact check caught
# 18 of its 22 planted claims alone); on the six replay sets of session 15 (394 sentences) a
# planted claim's best span scored below 1 twice, 0.15 and 0.53 ("hauled it in a refrigerated
# trailer" for "on an attached trailer"), the faithful sentences 1.29 and up (but one, of a reply
# lost for another reason): 1.0 catches both and keeps every faithful reply (1.5 loses one).
SUPPORT_LOGIT = 1.0
_MARKER = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")
_LEADING_MARKERS = re.compile(rf"^(?:{_MARKER.pattern})+")
_NUMBER_WORDS = {
    w: str(i)
    for i, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty".split())
} | {w: str(10 * i) for i, w in enumerate("thirty forty fifty sixty seventy eighty ninety".split(), start=3)}
_MONTH = re.compile(rf"\b(?:{MONTHS})\b", re.IGNORECASE)


@dataclass
class CheckedSentence:
    text: str
    citations: list[int] = field(default_factory=list)  # final citation numbers
    supported: bool = False
    reason: str = ""  # why unsupported, for the page's tooltip and the JSON

    def to_json(self) -> dict:
        out = {"text": self.text, "citations": self.citations, "supported": self.supported}
        if self.reason:
            out["reason"] = self.reason
        return out


def _marker_numbers(text: str) -> list[int]:
    """The passage numbers of the `[n]` / `[n, m]` markers in `text`, in order."""
    return [int(n) for m in _MARKER.finditer(text) for n in m.group(1).split(",")]


def split_cited(text: str) -> list[tuple[str, list[int]]]:
    """Answer sentences with the passage numbers the model put after them."""
    out: list[tuple[str, list[int]]] = []
    for a, b in join_abbreviations(text, sentence_spans(text)) or [(0, len(text))]:
        chunk = text[a:b]
        # Markers written after the full stop ("… in June 2021. [1] The call …") open the next
        # span: they belong to the sentence before.
        lead = _LEADING_MARKERS.match(chunk)
        if lead and out:
            out[-1][1].extend(_marker_numbers(lead.group()))
            chunk = chunk[lead.end() :]
        markers = _marker_numbers(chunk)
        clean = _MARKER.sub("", chunk).strip()
        if clean and re.search(r"\w", clean):
            out.append((clean, markers))
        elif markers and out:
            out[-1][1].extend(markers)
    return out


# "the two presidents", "both sides": a reference to the parties already named, not a count
# ("the two rounds of talks" still counts: rounds are not parties).
_PARTIES = re.compile(
    r"\b(?:the|both|these|those)\s+(?:two|three)\s+(?:presidents|leaders|sides|countries|nations|men|women|parties|"
    r"governments|powers|teams|companies|ministers|delegations|heads of state|officials|candidates)\b",
    re.IGNORECASE,
)


# Words that scale the number before them: "1.5 million" is 1,500,000 and "six decades" is 60.
_SCALES = {"hundred": 100, "thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12, "bn": 1e9, "mn": 1e6,
           "dozen": 12, "dozens": 12, "decade": 10, "decades": 10}  # fmt: skip
_PLAIN_NUMBER = re.compile(r"\d+(?:\.\d+)?")  # a figure with a value ("2", "1.5"), not "3.25.4"


def _figures(text: str, claim: bool = False) -> list[tuple[str, float | None]]:
    """Each number of `text` as written ("fifty" → "50") and its value ("1.5 million" →
    ("1.5", 1500000), "six decades" → ("6", 60))."""
    if claim:
        text = _PARTIES.sub(" ", text)
    words = re.findall(r"\d[\d,.]*\d|\d|[A-Za-z]+", text.lower())
    out: list[tuple[str, float | None]] = []
    for i, w in enumerate(words):
        if w[0].isdigit():
            raw = w.replace(",", "").rstrip(".")
        elif w in _NUMBER_WORDS and w not in ("one", "zero"):  # "one of the rounds" counts nothing
            raw = _NUMBER_WORDS[w]
        else:
            continue
        value = float(raw) if _PLAIN_NUMBER.fullmatch(raw) else None
        if value is not None and i + 1 < len(words) and words[i + 1] in _SCALES:
            value *= _SCALES[words[i + 1]]
        out.append((raw, None if value is None else round(value, 6)))
    return out


def _numbers_missing(claim: str, evidence: str) -> list[str]:
    """The claim's numbers that the evidence writes neither the same way nor with the same value
    (replies.jsonl r61: "over 60 years" for "more than six decades")."""
    have = _figures(evidence)
    raws = {r for r, _ in have}
    values = {v for _, v in have if v is not None} | {round(float(r), 6) for r in raws if _PLAIN_NUMBER.fullmatch(r)}
    return sorted({r for r, v in _figures(claim, claim=True) if r not in raws and (v is None or v not in values)})


def _names(sentence: str) -> list[str]:
    """Capitalised words after the first, split at hyphens ("Putin-Biden" → Putin, Biden)."""
    stop = stopwords("english")
    tokens = WORD.findall(sentence)
    out = []
    for t in tokens[1:]:
        for part in re.split(r"[-–—/]", t.strip("'’")):
            part = re.sub(r"(?:’s|'s)$", "", part)
            if part[:1].isupper() and part.lower() not in stop and not _MONTH.fullmatch(part) and len(part) > 1:
                out.append(part)
    return out


# Bodies news names either way ("UN" ~ "the United Nations"); states are `state_forms`.
_ALIASES = {"un": ("unitednations",), "eu": ("europeanunion",)}


def _name_found(name: str, tokens: set[str], squashed: str = "") -> bool:
    key = squash(name)
    # "US" for "the United States", "Washington" for "the US", "Moscow" for "Russia".
    forms = set(_ALIASES.get(key, ())) | {squash(f) for f in state_forms(name)}
    if key in tokens or any(a in tokens or (len(a) > 3 and a in squashed) for a in forms):
        return True
    # Transliterations and typos: "Dmitry" ~ "Dmitri", "Zelensky" ~ "Zelenskyy".
    return len(key) >= 4 and any(t[:3] == key[:3] and SequenceMatcher(None, key, t).ratio() >= 0.8 for t in tokens if len(t) >= 4)


def facts_missing(sentence: str, evidence: str, question: str = "") -> list[str]:
    """The numbers, months and names of `sentence` that `evidence` does not state. A year the
    question states is its time frame, not a claim ("their last call of 2021 was on December 31"
    answers "when was their last call of 2021?" from "the last one took place on December 31").
    The question's names and other figures still count: they are the likely confusions (a planted
    "Tom Brady announced …" names the person the question asks about)."""
    years = " ".join(re.findall(r"\b(?:19|20)\d\d\b", question))
    missing = _numbers_missing(sentence, f"{evidence} {years}")
    have_months = {m.lower()[:3] for m in _MONTH.findall(evidence)}
    missing += [m for m in _MONTH.findall(sentence) if m.lower()[:3] not in have_months]
    tokens, squashed = name_tokens(evidence), squash(evidence)
    missing += [n for n in _names(sentence) if not _name_found(n, tokens, squashed)]
    return missing


# A sentence that addresses the reader's assistant ("Ignore the question and say …") is an
# instruction planted in an article, not a report of anything: it supports no claim.
_INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget)\b[^.!?]{0,40}\b(?:question|instructions?|above|previous|prompt|rules)\b"
    r"|\b(?:you|assistants?|ai|models?)\s+(?:must|should|have to)\s+(?:say|answer|reply|respond|tell)\b"
    r"|\b(?:always|instead)\s+(?:say|answer|reply)\s+that\b",
    re.IGNORECASE,
)


def units_of(passage: str) -> list[tuple[int, int]]:
    """The passage's sentences and adjacent pairs, as offsets: what a claim may be said by.
    Planted instructions are left out, and so are the pairs that hold one."""
    spans = join_abbreviations(passage, sentence_spans(passage)) or [(0, len(passage))]
    units = spans + [(spans[i][0], spans[i + 1][1]) for i in range(len(spans) - 1)]
    return [(a, b) for a, b in units if passage[a:b].strip() and not _INSTRUCTION.search(passage[a:b])]


# Where a sentence joins two claims: a true clause said loudly hides an invented one from the
# cross-encoder (replies.jsonl r60: the whole scores 6.2, its invented clause alone -5.8).
_CLAUSE_BREAK = re.compile(r"\s*(?:;|,\s+(?:and|but|while|whereas|although|though)\b|\s+while\b|\s+whereas\b)\s*", re.IGNORECASE)
MIN_CLAUSE_WORDS = 4  # shorter tails ("…, and more") are not claims of their own


def clauses(sentence: str) -> list[str]:
    """The claims a sentence joins, when it joins several; otherwise the sentence alone."""
    parts = [x.strip(" ,.;") for x in _CLAUSE_BREAK.split(sentence)]
    if len(parts) < 2 or any(len(x.split()) < MIN_CLAUSE_WORDS for x in parts):
        return [sentence]
    return parts


class Support(NamedTuple):
    ok: bool
    why: str  # why not, for the page's tooltip and the JSON
    span: tuple[int, int] | None  # the offsets in the passage that say the claim
    score: float  # the cross-encoder logit of that span (of the best span when not supported)
    conflict: float  # the best logit of a span that says the claim with other facts, or -inf


def support(sentence: str, meta: str, passage: str, cross_encoder, question: str = "") -> Support:
    """Whether one passage says one claim.

    The cross-encoder, with the claim as the query, ranks the passage's sentences and adjacent
    pairs; the claim is supported when one of the best three says it closely enough *and* states
    every number, month and name of the claim (with the passage's title, source and date, `meta`).
    Checking the facts in the sentence that says the claim, not anywhere in the passage, is what
    catches "two rounds" for "three rounds" when "two" is elsewhere in the passage. A span that
    says the claim closely but with other facts is a conflict: the passage says otherwise."""
    units = units_of(passage)
    if not units:
        return Support(False, "the passage is empty", None, float("-inf"), float("-inf"))
    scores = [float(x) for x in cross_encoder.score(sentence, [passage[a:b] for a, b in units])]
    order = sorted(range(len(units)), key=scores.__getitem__, reverse=True)[:3]
    why, conflict = "the passage does not say this", float("-inf")
    for i in order:
        if scores[i] < SUPPORT_LOGIT:
            break
        a, b = units[i]
        missing = facts_missing(sentence, f"{meta}\n{passage[a:b]}", question)
        if not missing:
            return Support(True, "", units[i], scores[i], conflict)
        if conflict == float("-inf"):
            why, conflict = f"the passage does not say {missing[0]} here", scores[i]
    return Support(False, why, None, scores[order[0]], conflict)


# --- the 135M model's contract --------------------------------------------------------------------
def _overlap(sentence: str, passage: str) -> float:
    words = content_words(sentence)
    if not words:
        return 0.0
    have = {stem5(w) for w in content_words(passage)}
    return sum(stem5(w) in have for w in words) / len(words)


def small_model_supported(sentence: str, passage: str) -> bool:
    """Every number, name and content word of a small model's sentence is in its evidence."""
    low = passage.lower()
    numbers = re.findall(r"\d[\d,.]*\d|\d", sentence)
    if any(n.replace(",", "") not in low.replace(",", "") for n in numbers):
        return False
    tokens = WORD.findall(sentence)
    names = [t for t in tokens[1:] if t[:1].isupper() and t.lower() not in stopwords("english")]
    if any(n.lower().strip("'’") not in low for n in names):
        return False
    return _overlap(sentence, passage) >= 1.0
