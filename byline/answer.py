"""From reranked passages to a cited answer, designed around a very small generator.

1. Evidence: of the top passages' sentences, the 16 sharing most words with the question (and
   adjacent pairs around the best ones), scored by the cross-encoder against the question; a
   passage scores as its best sentence. Sentences with the kind of fact asked for (a date, a
   count, a city, a quotation …) rank higher; one whose subject is another person the question
   names ("When did Putin say …" → "Biden did not deny …") ranks lower.
2. Gate: when no sentence scores above the answer threshold, none has the date, count or
   duration asked for, no candidate passage names a name of the question or the category it asks
   for, or a "Did …?" question has only a forecast for evidence, refuse, and say why.
3. Generate from one short passage only (a 135M model invents facts when handed many), then check
   the answer against that passage: every number and name must be there and most content words.
   An unsupported or empty answer falls back to quoting the best sentence.
Citations are attached here, by code, to the passages the answer was built from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from byline.config import Settings
from byline.nltk_data import CLOSING_QUOTE, open_quote, sentence_spans, stopwords
from byline.places import CALENDAR_WORDS, countries_named, place_names
from byline.types import Answer, Citation, ScoredPassage

REFUSAL_TEXT = "The articles don't cover this question."
NOT_FOUND_MARK = "NOT IN THE ARTICLES"
MAX_QUOTE_WORDS = 40
FOLLOW_UP_MARGIN = 1.5
LONG_QUESTION_WORDS, LONG_QUESTION_SLOPE = 8, 0.15  # measured on RealTimeQA dev and evals/bundled.jsonl
QUOTE_WINDOW_STRIDE = 3  # words between the candidate windows of a run-on sentence
QUOTE_CLOSE_WORDS = 8  # a quote window grows by up to this many words to close a quoted title
QUOTE_FINISH_WORDS = 8  # a quote window this close to the end of its sentence slides to end with it
PAIRED_SENTENCES = 3  # the winning pair was around one of the three best sentences on both sets
SCORED_SENTENCES = 16  # sentences the cross-encoder reads, chosen by word overlap; 12 left out a paraphrase sharing two words
SUBJECT_MISS = 2.0  # logits off a sentence whose subject is another person the question names
FOCUS_BONUS = 1.5  # logits for a sentence that names the category a "which X" question asks for
ARTICLE_RANK_WEIGHT, MAX_ARTICLE_RANK = 1.0, 2  # logits per article rank, capped; RealTimeQA citation accuracy 0.40 → 0.50

# A place list misses small towns and buildings, so only these kinds refuse when no sentence has one.
GATED_KINDS = ("date", "count", "duration")
# Logits for a sentence with (without) the kind of fact asked for. What someone said is often
# reported without quotation marks, so a sentence without them is not pushed down.
KIND_BONUS, KIND_MISS = 2.0, {"quote": 0.0}
_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
_DATE_RE = re.compile(
    rf"\b(?:{_MONTHS})\b|\b(?:19|20)\d\d\b|\b\d{{1,2}}[/.]\d{{1,2}}[/.]\d{{2,4}}\b|\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|yesterday|today|tomorrow|tonight)\b|\b(?:last|next|this) (?:week|month|year)\b|\b(?:early|mid|late)-?\s?(?:{_MONTHS})\b|\bnew year\b",
    re.IGNORECASE,
)
_NUMBER_WORDS = r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|hundred|hundreds|thousand|thousands|million|millions|billion|billions|dozen|dozens|half|several|few"
_COUNT_RE = re.compile(rf"\b(?!(?:19|20)\d\d\b)\d[\d,.]*\b|\b(?:{_NUMBER_WORDS})\b", re.IGNORECASE)


# The kind of fact a question asks for, by its wording; the first match wins.
_KIND_PATTERNS = [
    (re.compile(r"^(when\b|(on |in |by )?(what|which) (dates?|days?|year|month|time)\b)"), "date"),
    (re.compile(r"^how long\b"), "duration"),
    (re.compile(r"^(how (many|much|old|far)\b|what (percentage|number|share|amount)\b)"), "count"),
    (re.compile(r"\b(which|what) (city|cities|town|capital)\b"), "city"),
    (re.compile(r"\b(which|what) (country|countries|nation)\b"), "country"),
    (re.compile(r"^where\b"), "place"),
    (re.compile(r"^what did .+ (say|tell|reply|answer|write|tweet)\b"), "quote"),
]


def expected_kind(question: str) -> str | None:
    return next((kind for q in _question_openings(question) for pattern, kind in _KIND_PATTERNS if pattern.search(q)), None)


def _question_openings(question: str) -> list[str]:
    """Where the asking may start: the whole question, its last sentence, and what follows each
    comma in it, without a leading "approximately" — quiz questions put the question word after a
    preamble ("A Russian court ruled … . How many months …?", "According to a poll, what
    percentage …", "Approximately how many …")."""
    q = question.lower().strip()
    own = re.sub(r"\s*\(about:.*\)$", "", q)  # a follow-up's conversation is not its question
    last = re.split(r"(?<=[.?!])\s+", own)[-1]
    tails = [last] + [last[m.end() :] for m in re.finditer(r",\s+", last)]
    return [q] + [re.sub(r"^(?:approximately|roughly|about|on average|nearly|almost)\s+", "", t) for t in tails]


_DURATION_RE = re.compile(
    rf"\b(?:\d[\d,.]*|an?|{_NUMBER_WORDS})[\s-]+(?:\w+[\s-]+)?(?:seconds?|minutes?|hours?|days?|weeks?|months?|years?|decades?)\b",
    re.IGNORECASE,
)


# "in Geneva", "at the Kremlin", "near Kharkiv": a place GeoNames may not list (regions, buildings, small towns).
_PLACE_PHRASE = re.compile(rf"\b(?i:in|at|near|outside|inside)\s+(?:the\s+)?(?!(?i:{CALENDAR_WORDS})\b)[A-Z]")
# Direct speech: a quotation mark close to a verb of saying, before or after it, in one sentence
# ("Biden said “we’ll see”", "“Let’s see,” he said"); a quotation elsewhere in a pair does not count.
_SAYING = r"(?:say|says|said|tell|tells|told|add|adds|added|state|states|stated|repl(?:y|ies|ied)|answer(?:s|ed)?|ask(?:s|ed)?|note(?:s|d)?|wr(?:ite|ites|ote)|explain(?:s|ed)?|declare(?:s|d)?|according to)"
_QUOTATION = re.compile(rf"\b{_SAYING}\b[^.!?“”\"«»]{{0,60}}[“\"«‘]|[”\"»’][^.!?“”\"«»]{{0,40}}\b{_SAYING}\b", re.IGNORECASE)
_MONTH_NAME = re.compile(r"\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\b")
_MONTH_WORDS = frozenset(_MONTHS.split("|"))


_PROSPECTIVE = re.compile(r"\b(?:will|could|may|might|shall|(?:plans?|planning|intends?|expected|yet) to|not yet|undecided)\b", re.IGNORECASE)


def asks_what_happened(question: str) -> bool:
    """A yes/no question about the past ("Did … ?"), which a forecast does not answer."""
    return bool(re.match(r"^\s*did\b", question, re.IGNORECASE))


def _months(text: str) -> set[str]:
    return {m.group(1) for m in _MONTH_NAME.finditer(text) if m.group().lower() in _MONTH_WORDS}


def has_kind(text: str, kind: str | None, question: str = "") -> bool:
    """Whether `text` states the kind of fact asked for. A date asked for within a month ("on what
    date in December …") must be in that month: "in January" does not answer it."""
    if kind == "duration":
        return bool(_DURATION_RE.search(text))
    if kind == "date":
        asked = _months(question)
        return bool(_DATE_RE.search(text)) and (not asked or bool(asked & _months(text)))
    if kind == "count":
        # A count must not be only a day of a date ("June 16") or a year.
        stripped = re.sub(rf"\b(?:{_MONTHS})\s+\d{{1,2}}\b|\b\d{{1,2}}\s+(?:{_MONTHS})\b", " ", text, flags=re.IGNORECASE)
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


@dataclass
class Sentence:
    """An evidence unit: one sentence, or two adjacent ones, inside a candidate passage."""

    passage_rank: int  # index into Plan.passages
    start: int  # offsets inside the passage text
    end: int
    text: str
    score: float = 0.0  # cross-encoder logit of (question, text)
    rank_score: float = 0.0  # score plus the passage's and the expected-kind terms, for ranking


@dataclass
class Plan:
    question: str
    passages: list[ScoredPassage]  # the candidates considered, best first
    sentences: list[Sentence] = field(default_factory=list)  # evidence units, best first
    refused: bool = False
    reason: str = ""

    @property
    def best(self) -> Sentence:
        return self.sentences[0]


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
    return int(bool(noun) and any(_stem(w) == _stem(noun) for w in _content_words(text)))


def question_names(question: str) -> list[str]:
    """Names and figures the question mentions: capitalised words after the first, and numbers of
    two or more digits ("US-Russia" counts as US and Russia, "Peskov's" as Peskov)."""
    stop = stopwords("english")
    names = []
    for i, token in enumerate(question.split()):
        parts = re.split(r"[-–—/]", token)
        # "US-Russia" is two names; "G-20" and "COVID-19" are one.
        for part in parts if all(len(p) >= 2 and p.isalpha() for p in parts) else [token]:
            word = re.sub(r"(?:’s|'s)$", "", part.strip(".,;:!?\"'“”‘’()[]"))
            # A figure counts when it is a plain number: "20-for-1" or "BA.4" are written too many ways.
            if len(word) >= 2 and ((i > 0 and word[0].isupper() and word.lower() not in stop) or re.fullmatch(r"\d[\d,.]*", word)):
                names.append(word)
    return names


def question_name_keys(question: str) -> set[str]:
    """The question's names as they are compared (squashed: "U.S." is "us")."""
    return {_squash(n) for n in question_names(question)}


def missing_names(question: str, candidates: str) -> list[str]:
    """The question's names that the candidate passages' text (titles included) never mentions.
    "What did Xi Jinping say about the call?" answered from passages that never name Xi is
    answered about someone else."""
    evidence = _name_tokens(candidates)
    return [n for n in question_names(question) if _squash(n) not in evidence]


def _name_tokens(text: str) -> set[str]:
    """Words as names are compared: squashed, possessive dropped, hyphenated parts also alone
    ("U.S.-Russia" → usrussia, us, russia). Whole words, so "Xi" is not found in "exists"."""
    tokens: set[str] = set()
    for word in re.sub(r"[’']s\b", "", text.lower()).split():
        tokens.add(_squash(word))
        tokens.update(_squash(part) for part in re.split(r"[-–—/]", word))
    return tokens


def _squash(text: str) -> str:
    # "G20" matches "G-20", "US" matches "U.S.": compare letters and digits only.
    return re.sub(r"[^a-z0-9]", "", text.lower())


def answer_threshold(base: float, question: str, follow_up: bool = False) -> float:
    """The evidence score a question needs. Cross-encoder logits fall as a question grows longer
    (a 30-word quiz question is never matched whole by one sentence), so long questions need less;
    a follow-up carries its conversation, which dilutes the score the same way."""
    words = len(question.split())
    return base - LONG_QUESTION_SLOPE * max(0, words - LONG_QUESTION_WORDS) - (FOLLOW_UP_MARGIN if follow_up else 0.0)


def _most_overlapping(question: str, sentences: list[Sentence], n: int, kind: str | None, noun: str | None = None) -> list[Sentence]:
    """The n sentences that share the most words (Porter stems) with the question, counting the
    kind of fact asked for and the category asked for as one more word each, and half the better
    neighbour's count ("… a phone call took place. It lasted 50 minutes."); ties go to the better
    passage. The cross-encoder is the
    costly step (about 60 % of an answer's time), so it reads these only."""
    if len(sentences) <= n:
        return sentences
    words = _porter_words(question)
    own = [len(words & _porter_words(u.text)) + (1 if kind and has_kind(u.text, kind, question) else 0) + names_noun(u.text, noun) for u in sentences]

    def neighbour(i: int) -> int:
        same = [j for j in (i - 1, i + 1) if 0 <= j < len(sentences) and sentences[j].passage_rank == sentences[i].passage_rank]
        return max((own[j] for j in same), default=0)

    order = sorted(range(len(sentences)), key=lambda i: own[i] + 0.5 * neighbour(i), reverse=True)
    return [sentences[i] for i in sorted(order[:n])]


def _porter_words(text: str) -> set[str]:
    return {_porter(w) for w in _content_words(text)}


@lru_cache(maxsize=50_000)
def _porter(word: str) -> str:
    return _porter_stemmer().stem(word)


@lru_cache(maxsize=1)
def _porter_stemmer():
    from nltk.stem import PorterStemmer  # imported on first use: nltk.stem costs 0.4 s at start-up

    return PorterStemmer()


def evidence_passages(retrieved: list[ScoredPassage], n: int, per_article: int = 2, best_passages: int = 2) -> list[ScoredPassage]:
    """The passages whose sentences are scored: the best two of each top article, in article order,
    plus the best passages by their own fused score when those belong to lower-ranked articles.

    Retrieval ranks articles; the fact asked for is often in an article's second-best passage
    (the best one matched the question's words, the next one holds the date or number). A short
    article with one strong passage ranks low as an article, so its passage is added on its own."""
    by_article: dict[str, list[ScoredPassage]] = {}
    for c in retrieved:
        by_article.setdefault(c.passage.article_id, []).append(c)
    chosen = [c for group in by_article.values() for c in group[:per_article]][: max(1, n)]
    articles = {c.passage.article_id for c in chosen}
    extra = [c for c in sorted(retrieved, key=lambda c: c.score, reverse=True) if c.passage.article_id not in articles][:best_passages]
    return chosen + extra


class AnswerBuilder:
    def __init__(self, settings: Settings, cross_encoder, prompts_dir: Path | None = None):
        self.settings = settings
        self.cross_encoder = cross_encoder
        self.prompts = _load_prompts(prompts_dir or Path(__file__).resolve().parent.parent / "prompts")

    # --- planning ------------------------------------------------------------------------------
    def plan(self, question: str, retrieved: list[ScoredPassage], follow_up: bool = False, asked: str | None = None) -> Plan:
        """`follow_up`: the question carries its conversation ("… (about: …)"), which dilutes the
        cross-encoder's scores, so the answerability gate is relaxed by a fixed margin.
        `asked`: the user's own words when `question` is a rewrite; its names must be in the evidence."""
        s = self.settings
        plan = Plan(question, evidence_passages(retrieved, s.evidence_passages))
        if not plan.passages:
            plan.refused, plan.reason = True, "no passage matches the question"
            return plan
        kind = expected_kind(question)
        spans = [sentence_spans(c.passage.text, quotable=True) for c in plan.passages]
        # A sentence that asks a question answers none (news quizzes and FAQs quote questions
        # verbatim, and the cross-encoder scores such a sentence highest of all).
        spans = [[(a, b) for a, b in ss if not _is_question(c.passage.text[a:b])] for c, ss in zip(plan.passages, spans)]
        singles = [Sentence(rank, a, b, c.passage.text[a:b]) for rank, c in enumerate(plan.passages) for a, b in spans[rank]]
        noun = focus_noun(question)
        singles = _most_overlapping(question, singles, SCORED_SENTENCES, kind, noun)
        self._score(question, singles)
        # The fact often sits in the sentence after (or before) the one that matches the question,
        # so adjacent pairs are scored too, but only around the best sentences: scoring every pair
        # doubled the cross-encoder time for no measured gain.
        pairs: dict[tuple[int, int], Sentence] = {}
        for u in sorted(singles, key=lambda x: x.score + FOCUS_BONUS * names_noun(x.text, noun), reverse=True)[:PAIRED_SENTENCES]:
            ss = spans[u.passage_rank]
            i = next(j for j, (a, _) in enumerate(ss) if a == u.start)
            for first in (i - 1, i):
                # Adjacent in the text: a question sentence between them was dropped above.
                if 0 <= first and first + 1 < len(ss) and (u.passage_rank, first) not in pairs and _adjacent(plan.passages[u.passage_rank].passage.text, ss[first], ss[first + 1]):
                    text = plan.passages[u.passage_rank].passage.text
                    pairs[(u.passage_rank, first)] = Sentence(u.passage_rank, ss[first][0], ss[first + 1][1], text[ss[first][0] : ss[first + 1][1]])
        self._score(question, list(pairs.values()))
        # A pair is at least as relevant as its better sentence: the cross-encoder often scores
        # "X happened. It lasted 50 minutes." below "X happened." alone, though the pair answers more.
        single_score = {(u.passage_rank, u.start): u.score for u in singles}
        for (rank, first), pair in pairs.items():
            second_start = spans[rank][first + 1][0]
            pair.score = max(pair.score, single_score.get((rank, pair.start), pair.score), single_score.get((rank, second_start), pair.score))
        units = singles + list(pairs.values())
        # A passage is as relevant as its best sentence (the cross-encoder reads sentences, not passages).
        for rank, c in enumerate(plan.passages):
            c.score = max((u.score for u in units if u.passage_rank == rank), default=float("-inf"))
        best_passage = max(c.score for c in plan.passages)
        order = sorted(range(len(plan.passages)), key=lambda r: plan.passages[r].score, reverse=True)
        order = [r for r in order if plan.passages[r].score >= best_passage - 6.0]  # far weaker passages are noise
        new_rank = {old: new for new, old in enumerate(order)}
        plan.passages = [plan.passages[r] for r in order]
        units = [u for u in units if u.passage_rank in new_rank]
        for u in units:
            u.passage_rank = new_rank[u.passage_rank]
        # Retrieval's article order is the better judge of which article a quiz-like question is
        # about (RealTimeQA: top article right 74 %, the cross-encoder's pick 40 %); the
        # cross-encoder then picks the sentence within the leading articles.
        article_rank = {aid: r for r, aid in enumerate(dict.fromkeys(c.passage.article_id for c in retrieved))}
        subject = asked_subject(question)
        asked_names = question_name_keys(question)
        for u in units:
            u.rank_score = (
                u.score
                + 0.3 * plan.passages[u.passage_rank].score
                + (KIND_BONUS if has_kind(u.text, kind, question) else -KIND_MISS.get(kind, 4.0) if kind else 0.0)
                + FOCUS_BONUS * names_noun(u.text, noun)
                - (SUBJECT_MISS if subject and names_another_subject(u.text, subject, asked_names) else 0.0)
                - ARTICLE_RANK_WEIGHT * min(MAX_ARTICLE_RANK, article_rank.get(plan.passages[u.passage_rank].passage.article_id, 0))
            )
        plan.sentences = sorted(units, key=lambda u: u.rank_score, reverse=True)
        best_unit = max((x.score for x in units), default=float("-inf"))
        # What the name and category gates look in: every candidate passage, titles included.
        candidates = " ".join(f"{c.passage.title} {c.passage.text}" for c in retrieved).lower()
        # Every gate refuses; the order only picks the reason the user is shown, most specific first.
        if missing := missing_names(asked or question, candidates):
            plan.refused, plan.reason = True, f"no passage mentions {missing[0]}"
        elif noun and _stem(noun) not in candidates:
            plan.refused, plan.reason = True, f"no passage names the {noun} asked for"
        elif kind in GATED_KINDS and not any(has_kind(x.text, kind, question) for x in plan.sentences[:3]):
            plan.refused, plan.reason = True, f"no passage states the {kind} asked for"
        elif best_unit < answer_threshold(s.answer_threshold, question, follow_up):
            plan.refused, plan.reason = True, "no sentence in the candidate passages matches the question closely enough"
        elif asks_what_happened(question) and _PROSPECTIVE.search(plan.best.text):
            # "Did Putin attend the summit?" answered by "Putin has not yet decided whether he will" is
            # an answer from before the event: the articles do not say how it turned out.
            plan.refused, plan.reason = True, "the passages only say what was expected to happen"
        return plan

    def _score(self, question: str, units: list[Sentence]) -> None:
        for u, sc in zip(units, self.cross_encoder.score(question, [u.text for u in units])):
            u.score = float(sc)

    # --- answers -------------------------------------------------------------------------------
    def refusal(self, plan: Plan) -> Answer:
        # Why, in one line ("No passage mentions Xi."): a user can tell a question the
        # articles miss from one worded so that nothing matched, and rephrase.
        why = plan.reason[:1].upper() + plan.reason[1:] + "." if plan.reason else ""
        return Answer(plan.question, REFUSAL_TEXT, True, [], "refused", notice=why)

    def extractive(self, plan: Plan, mode: str = "extractive", notice: str = "") -> Answer:
        if plan.refused or not plan.sentences:
            return self.refusal(plan)
        best = plan.best
        quote = self._quote(best.text, plan.question)
        source = plan.passages[best.passage_rank]
        # A quote often names its subject only as "the show" or "the company"; the headline names it.
        title = source.passage.title.strip()
        lead = f"{title} — " if title and _names_something_new(title, f"{quote} {plan.question}") else ""
        if country := self._country_answer(quote, plan.question):
            lead = f"{country} — "
        citation = self._citation(1, source, best.start, best.end)
        return Answer(plan.question, f"{lead}“{quote}” [1]", False, [citation], mode, notice=notice)  # type: ignore[arg-type]

    @staticmethod
    def _country_answer(quote: str, question: str) -> str:
        """For "which country", the one country the quote names that the question does not, said
        plainly: "Ukrainian first lady Olena Zelenska …" answers "Ukraine"."""
        if expected_kind(question) != "country":
            return ""
        new = countries_named(quote) - countries_named(question)
        return new.pop() if len(new) == 1 else ""

    def _quote(self, sentence: str, question: str) -> str:
        """A sentence, or for a run-on scrape sentence (or a long pair) the window of it that the
        cross-encoder finds most relevant, preferring windows that hold the kind of fact asked for.
        Word-overlap windows lost the answer in 4 of 13 bundled misses; these keep it more often."""
        words = sentence.split()
        if len(words) <= MAX_QUOTE_WORDS:
            return sentence.strip()
        starts = list(range(0, len(words) - MAX_QUOTE_WORDS + 1, QUOTE_WINDOW_STRIDE))
        if starts[-1] != len(words) - MAX_QUOTE_WORDS:
            starts.append(len(words) - MAX_QUOTE_WORDS)
        windows = [" ".join(words[i : i + MAX_QUOTE_WORDS]) for i in starts]
        kind = expected_kind(question)
        scores = [float(sc) + (KIND_BONUS if kind and has_kind(w, kind, question) else 0.0) for sc, w in zip(self.cross_encoder.score(question, windows, batch_size=len(windows)), windows)]
        i = max(range(len(windows)), key=scores.__getitem__)
        last = len(starts) - 1
        # End where the sentence ends ("… while Putin has not …" had cut "yet decided") unless the
        # words that slide out at the start hold the kind of fact asked for ("About 79% of …").
        if len(words) - (starts[i] + MAX_QUOTE_WORDS) <= QUOTE_FINISH_WORDS and not (kind and has_kind(" ".join(words[starts[i] : starts[last]]), kind, question)):
            i = last
        end = starts[i] + MAX_QUOTE_WORDS
        # Never stop inside a short quoted title ("the documentary “The World on the …”").
        closes = next((j for j in range(end, min(len(words), end + QUOTE_CLOSE_WORDS)) if CLOSING_QUOTE.search(words[j])), None)
        if closes is not None and open_quote(" ".join(words[starts[i] : end])):
            end = closes + 1
        return ("… " if starts[i] > 0 else "") + " ".join(words[starts[i] : end]) + (" …" if end < len(words) else "")

    def messages(self, plan: Plan, multi: bool) -> list[dict]:
        """Chat messages for the generator: one passage for a small model, several numbered ones otherwise."""
        if multi:
            body = "\n\n".join(f"[{i + 1}] {c.passage.title}\n{c.passage.text}" for i, c in enumerate(self._given(plan, True)))
            user = self.prompts["answer_user_multi"].format(passages=body, question=plan.question)
        else:
            # A 135M model is reliable on a sentence or two and wanders on a whole passage.
            c = self._given(plan, False)[0]
            user = self.prompts["answer_user"].format(passages=f"Article: {c.passage.title}\nPassage: {plan.best.text}", question=plan.question)
        return [{"role": "system", "content": self.prompts["answer_system"].strip()}, {"role": "user", "content": user}]

    def finish(self, plan: Plan, generated: str, multi: bool, backend: str) -> Answer:
        """Check a generated answer against the passages it was given; quote instead when unsupported."""
        text = _tidy(generated)
        given = self._given(plan, multi)
        if not text or NOT_FOUND_MARK.lower() in text.lower() or _sounds_like_refusal(text):
            return self.extractive(plan, "fallback", "The model found no answer in the passage; quoting the best supporting sentence instead.")
        pieces = _split_cited(text)
        cited: dict[int, Citation] = {}
        out: list[str] = []
        plain = " ".join(sentence for sentence, _ in pieces)
        for sentence, markers in pieces:
            # Use the model's marker only when that passage really supports the sentence.
            options = [m - 1 for m in markers if 1 <= m <= len(given)] or list(range(len(given)))
            best_i = max(options, key=lambda i: _support(sentence, given[i].passage.text))
            evidence = given[best_i].passage.text if multi else plan.best.text
            if not _supported(sentence, evidence) or not has_kind(sentence, expected_kind(plan.question), plan.question):
                return self.extractive(plan, "fallback", "The model's answer was not supported by the passage; quoting the best supporting sentence instead.")
            if best_i not in cited:
                start, end = _best_span(sentence, given[best_i].passage.text) if multi else (plan.best.start, plan.best.end)
                cited[best_i] = self._citation(len(cited) + 1, given[best_i], start, end)
            out.append(f"{sentence} [{cited[best_i].n}]")
        new_words = {_stem(w) for w in _content_words(plain)} - {_stem(w) for w in _content_words(plan.question)}
        if not new_words or names_only_the_asked(plain, plan.question):
            return self.extractive(plan, "fallback", "The model only restated the question; quoting the best supporting sentence instead.")
        if len(plain.split()) > 80:
            return self.extractive(plan, "fallback", "The model's answer ran long; quoting the best supporting sentence instead.")
        return Answer(plan.question, " ".join(out), False, list(cited.values()), "generated", backend=backend)

    def _given(self, plan: Plan, multi: bool) -> list[ScoredPassage]:
        """The passages a generator sees: the top few for a capable model, the best one for a small one."""
        if multi:
            return plan.passages[: max(1, self.settings.top_k)]
        return [plan.passages[plan.best.passage_rank]]

    def _citation(self, n: int, sp: ScoredPassage, start: int, end: int) -> Citation:
        p = sp.passage
        return Citation(n, p.article_id, p.title, p.url, p.published, p.source, p.text, round(sp.score, 3), p.id, start, end)


# --- text checks -------------------------------------------------------------------------------
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*|\d[\d,.:]*")


def _content_words(text: str) -> list[str]:
    stop = stopwords("english")
    return [w for w in (t.lower().strip("'’.,-") for t in _WORD.findall(text)) if w and w not in stop and len(w) > 2 or w.isdigit()]


def _stem(word: str) -> str:
    return word[:5] if not word[0].isdigit() else word.replace(",", "")


def _support(sentence: str, passage: str) -> float:
    words = _content_words(sentence)
    if not words:
        return 0.0
    have = {_stem(w) for w in _content_words(passage)}
    return sum(_stem(w) in have for w in words) / len(words)


def _supported(sentence: str, passage: str) -> bool:
    low = passage.lower()
    numbers = re.findall(r"\d[\d,.]*\d|\d", sentence)
    if any(n.replace(",", "") not in low.replace(",", "") for n in numbers):
        return False
    # Names: capitalised words after the first word must appear in the passage.
    tokens = _WORD.findall(sentence)
    names = [t for t in tokens[1:] if t[:1].isupper() and t.lower() not in stopwords("english")]
    if any(n.lower().strip("'’") not in low for n in names):
        return False
    # A small model's paraphrase is where facts get mixed up: every content word must be in the evidence.
    return _support(sentence, passage) >= 1.0


def _is_question(sentence: str) -> bool:
    return sentence.rstrip(" \t\n\"'”’)").endswith("?")


def _adjacent(text: str, first: tuple[int, int], second: tuple[int, int]) -> bool:
    return not text[first[1] : second[0]].strip()


def _best_span(sentence: str, passage: str) -> tuple[int, int]:
    spans = sentence_spans(passage, quotable=True) or [(0, len(passage))]
    return max(spans, key=lambda ab: _support(sentence, passage[ab[0] : ab[1]]))


_MARKER = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")


def _split_cited(text: str) -> list[tuple[str, list[int]]]:
    """Answer sentences with the passage numbers the model put after them."""
    out: list[tuple[str, list[int]]] = []
    for a, b in sentence_spans(text) or [(0, len(text))]:
        chunk = text[a:b]
        markers = [int(n) for m in _MARKER.finditer(chunk) for n in m.group(1).split(",")]
        clean = _MARKER.sub("", chunk).strip()
        if clean:
            out.append((clean, markers))
        elif markers and out:
            out[-1][1].extend(markers)
    return out


def _tidy(text: str) -> str:
    text = text.strip().strip('"').strip()
    text = re.sub(r"^(short answer|answer)\s*:\s*", "", text, flags=re.IGNORECASE)
    return re.sub(r"\s+", " ", text)


def _sounds_like_refusal(text: str) -> bool:
    return bool(re.search(r"\b(not (mentioned|stated|provided|specified|given|in the (passage|article))|no information|does not (say|mention|specify|provide|state)|cannot (answer|determine)|i don'?t know)\b", text, re.IGNORECASE))


def _names_something_new(title: str, seen: str) -> bool:
    """True when the headline has a capitalised word or a number that `seen` lacks."""
    have = set(re.sub(r"[^a-z0-9 ]", " ", seen.lower()).split())
    words = [t.lstrip("'\"‘“(") for t in title.split()]
    return any(_squash(t) not in have for t in words if t[:1].isupper() or t[:1].isdigit())


_NAME_RUN = re.compile(r"[A-Z][\w’'.-]*(?:\s+(?:of\s+(?:the\s+)?)?[A-Z][\w’'.-]*)*")


# "When did Putin say …", "Where will Lavrov meet …": the name after the auxiliary is who acts.
_ASKED_SUBJECT = re.compile(r"^\s*(?i:when|where|why|how(?: \w+)?|what|which \w+)\s+(?i:did|does|do|has|have|had|was|were|is|are|will|would|could|can)\s+([A-Z][\w’'.-]*(?:\s+[A-Z][\w’'.-]*)*)")


def asked_subject(question: str) -> set[str]:
    """The name of who acts in a "When did X …" question, as squashed words; empty when the question has none."""
    m = _ASKED_SUBJECT.match(question)
    return {_squash(w) for w in m.group(1).split()} if m else set()


def names_another_subject(sentence: str, subject: set[str], asked: set[str]) -> bool:
    """The sentence opens with another person the question names, not the one it asks about:
    "When did Putin say he saw no need to meet Biden?" is not answered by "US President Joe Biden
    did not deny … in January"."""
    opening = _NAME_RUN.match(sentence.lstrip(" “\"‘'"))
    if not opening:
        return False
    words = {_squash(w) for w in opening.group().split()}
    return not (words & subject) and bool(words & (asked - subject))


def names_only_the_asked(answer: str, question: str) -> bool:
    """A "who" question answered with the person the question names as the subject and nobody
    else: "Who did Antony Blinken talk with?" → "The US Secretary of State Antony Blinken."
    Nationalities and places ("the Russian president") name nobody new."""
    if not re.search(r"\bwhom?\b", question, re.IGNORECASE):
        return False
    asked = question_name_keys(question)
    stop = stopwords("english")
    subject = _NAME_RUN.match(answer.lstrip())
    if not subject or not any(_squash(w) in asked for w in subject.group().split()):
        return False

    def new_name(run: list[str]) -> bool:
        return any(w.lower() not in stop and _squash(w) not in asked and not any(place_names(w)) for w in run)

    others = [m.group().split() for m in _NAME_RUN.finditer(answer.lstrip(), subject.end())]
    return not any(new_name(run) for run in others)


def _load_prompts(folder: Path) -> dict[str, str]:
    names = ("answer_system", "answer_user", "answer_user_multi", "rewrite")
    missing = [n for n in names if not (folder / f"{n}.txt").is_file()]
    if missing:
        raise FileNotFoundError(f"Prompt files missing from {folder}: {', '.join(missing)}")
    return {n: (folder / f"{n}.txt").read_text(encoding="utf-8") for n in names}
