"""What a question asks about: the names it mentions (which the evidence must mention too), the
category a "which X" question asks for, and who acts in it.
"""

from __future__ import annotations

import re

from byline.facts import NAME_RUN
from byline.nltk_data import stopwords
from byline.places import place_names
from byline.words import content_words, name_tokens, squash, stem5


# Category nouns a sentence names only by example ("in which city" -> "in Istanbul").
_IMPLICIT_NOUNS = {
    "city", "country", "countries", "place", "town", "capital", "state", "region", "nation", "location",
    "person", "people", "man", "woman", "official", "leader", "politician", "name", "one", "animal", "species",
    "day", "date", "month", "year", "time", "week", "weekday",
    "organisation", "organization", "agency", "outlet", "news", "company", "group", "body", "institution",
    "word", "words", "phrase", "thing", "way", "kind", "type", "number", "measure", "team", "side", "party",
}  # fmt: skip
# "Which documentary did …", "which building was …": the word before the verb is the category.
# "Which wildly popular show …" is not matched: without a tagger an adjective is not told from a noun.
# "In which building in Geneva did …" names the category before a short place or time phrase.
_FOCUS_RE = re.compile(
    r"\b(?:which|what)\s+([a-z]+)\s+(?:(?:in|at|of|on|from|for|near|inside)\s+(?:the\s+)?[A-Za-z’'-]+\s+)?(?:is|was|are|were|did|does|do|has|have|had|will|would|can|could)\b",
    re.IGNORECASE,
)


def focus_noun(question: str) -> str | None:
    """The category a "which X" / "what X" question asks for, when some candidate passage must name it."""
    m = _FOCUS_RE.search(question)
    if not m:
        return None
    noun = m.group(1).lower()
    if noun in _IMPLICIT_NOUNS or noun.removesuffix("s") in _IMPLICIT_NOUNS or noun in stopwords("english") or noun.endswith("ed"):
        return None
    return noun


def names_noun(text: str, noun: str | None) -> int:
    """1 when `text` names the category asked for ("documentary", "programme" ~ "program")."""
    return int(bool(noun) and any(stem5(w) == stem5(noun) for w in content_words(text)))


def question_names(question: str) -> list[str]:
    """Names and figures the question mentions: capitalised words that do not open a sentence,
    and numbers of two or more digits ("US-Russia" counts as US and Russia, "Peskov's" as
    Peskov). A quiz question's second sentence opens with a capital too ("… One Medical.
    Roughly how much …")."""
    stop = stopwords("english")
    names = []
    tokens = question.split()
    for i, token in enumerate(tokens):
        opens = i == 0 or tokens[i - 1].rstrip("\"'”’)").endswith((".", "?", "!"))
        parts = re.split(r"[-–—/]", token)
        # "US-Russia" is two names; "G-20" and "COVID-19" are one.
        for part in parts if all(len(p) >= 2 and p.isalpha() for p in parts) else [token]:
            word = re.sub(r"(?:’s|'s)$", "", part.strip(".,;:!?\"'“”‘’()[]"))
            # A figure counts when it is a plain number: "20-for-1" or "BA.4" are written too many ways.
            if len(word) >= 2 and ((not opens and word[0].isupper() and word.lower() not in stop) or re.fullmatch(r"\d[\d,.]*", word)):
                names.append(word)
    return names


def question_name_keys(question: str) -> set[str]:
    """The question's names as they are compared (squashed: "U.S." is "us")."""
    return {squash(n) for n in question_names(question)}


def missing_names(question: str, candidates: str) -> list[str]:
    """The question's names that the candidate passages' text (titles included) never mentions.
    "What did Xi Jinping say about the call?" answered from passages that never name Xi is
    answered about someone else."""
    evidence = name_tokens(candidates)
    # News names a person by surname after the first mention: "Nick Kyrgios" is mentioned by a
    # passage saying "Kyrgios" (check4_realtimeqa g17 was refused for "Nick").
    forgiven = set()
    for run in NAME_RUN.finditer(question):
        words = [squash(re.sub(r"(?:’s|'s)$", "", w)) for w in run.group().split()]
        if len(words) >= 2 and words[-1] in evidence:
            forgiven.update(words[:-1])
    return [n for n in question_names(question) if squash(n) not in evidence and squash(n) not in forgiven and not _spelled_out(n, candidates)]


# Abbreviations of things, not names: the passages write them out ("TV" → "television",
# check7_realtimeqa v74 was refused as "No passage mentions TV").
_COMMON_ABBREVIATIONS = {
    "tv": ("television", "televised"), "ceo": ("chief executive",), "cfo": ("chief financial",), "gop": ("republican",),
    "mp": ("member of parliament", "lawmaker"), "mvp": ("most valuable",),
}  # "PM", "VP" and other titles are written out before the gate (words.written)
_FUNCTION_WORDS = {"of", "the", "and", "for", "on", "in", "to", "&"}
_FUNCTION_ALTERNATION = "|".join(map(re.escape, sorted(_FUNCTION_WORDS)))


def _spelled_out(name: str, candidates: str) -> bool:
    """Whether the passages write out an abbreviation the question uses: "DOJ" by "Department of
    Justice" (the initials of a run of words, with or without its function words), "TV" by
    "television"; and "T-shirt", "X-ray" are things, not names (check7_realtimeqa v18, v41)."""
    low = name.lower()
    if re.fullmatch(r"[a-z]-[a-z]+", low):
        return True
    forms = _COMMON_ABBREVIATIONS.get(low, ())
    if forms and any(form in candidates.lower() for form in forms):
        return True
    if not (2 <= len(name) <= 6 and name.isupper() and name.isalpha()):
        return False
    # Capitalised words only ("Department of Justice"): any lower-case run spells a short acronym.
    n = len(low)
    for m in re.finditer(rf"\b{name[0]}[a-z]+(?:\s+(?:(?:{_FUNCTION_ALTERNATION})\s+)*[A-Z][a-z]+){{1,{2 * n}}}", candidates):
        run = m.group().lower().split()
        full = "".join(w[0] for w in run)
        content = "".join(w[0] for w in run if w not in _FUNCTION_WORDS)
        if full.startswith(low) or content.startswith(low):
            return True
    return False


def names_only_the_asked(answer: str, question: str) -> bool:
    """A "who" question answered with the person the question names as the subject and nobody
    else: "Who did Antony Blinken talk with?" → "The US Secretary of State Antony Blinken."
    Nationalities and places ("the Russian president") name nobody new."""
    if not re.search(r"\bwhom?\b", question, re.IGNORECASE):
        return False
    asked = question_name_keys(question)
    stop = stopwords("english")
    subject = NAME_RUN.match(answer.lstrip())
    if not subject or not any(squash(w) in asked for w in subject.group().split()):
        return False

    def new_name(run: list[str]) -> bool:
        return any(w.lower() not in stop and squash(w) not in asked and not any(place_names(w)) for w in run)

    others = [m.group().split() for m in NAME_RUN.finditer(answer.lstrip(), subject.end())]
    return not any(new_name(run) for run in others)


