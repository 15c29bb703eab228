"""From reranked passages to a cited answer, in three tiers (issue #12).

1. Evidence: of the top passages' sentences, the 16 sharing most words with the question (and
   adjacent pairs around the best ones), scored by the cross-encoder against the question; a
   passage scores as its best sentence. Sentences with the kind of fact asked for (a date, a
   count, a city, a quotation …) rank higher, and so do those of the articles retrieval ranks first;
   the best are re-read with their headline before them, which says whom "he" or "it" means.
2. Tier: `refused` when nothing is relevant (no candidate passage names a name of the question or
   the category it asks for, or the best sentence scores as noise); `closest` when passages are
   relevant but no sentence clearly answers (below the answer threshold, none has the date, count
   or duration asked for, or a "Did …?" question has only a forecast); otherwise `answer`.
3. Compose (`compose.py`): a short answer first and the best sentence quoted, or the closest
   sentences, each cited.
4. Generate and verify (`verify.py`): the packaged 135M model gets the one best sentence, only in
   the `answer` tier, and its answer is kept only if every word of it is in that sentence; a
   capable model gets the top passages numbered whenever anything is relevant, answers in its own
   words, and each of its sentences is checked against the passage it cites.
Citations are attached here, by code, to the passages the answer was built from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from byline import compose, verify
from byline.config import Settings
from byline.facts import PROSPECTIVE, asks_what_happened, expected_kind, has_kind
from byline.nltk_data import sentence_spans
from byline.question import focus_noun, missing_names, names_noun, names_only_the_asked
from byline.types import Answer, Citation, ScoredPassage, Turn
from byline.words import porter_words, stem5, written

REFUSAL_TEXT = compose.REFUSAL_TEXT
NOT_FOUND_MARK = "NOT IN THE ARTICLES"
FOLLOW_UP_MARGIN = 1.5
LONG_QUESTION_WORDS, LONG_QUESTION_SLOPE = 8, 0.15  # measured on RealTimeQA dev and evals/bundled.jsonl
PAIRED_SENTENCES = 3  # the winning pair was around one of the three best sentences on both sets
SCORED_PAIRS = 16  # adjacent pairs read whole besides those around the best sentences
SCORED_SENTENCES = 16  # sentences the cross-encoder reads, chosen by word overlap; 12 left out a paraphrase sharing two words
ARTICLE_RANK_WEIGHT, MAX_ARTICLE_RANK = 1.0, 2  # logits per article rank, capped; RealTimeQA citation accuracy 0.40 → 0.50
# Units re-read with their headline, best first (session 14, answer in the top unit: 471 → 480 of
# 549 tuning questions, and 271 → 277 of 323 on six sets not used to choose it; all units: 480, 276).
TITLED_UNITS = 8
NOISE_LOGIT = -4.0  # a best sentence below this is noise: on the tuning sets no answerable question had its answer shown below it (some did between -4 and -3)
MAX_GENERATED_WORDS = 120  # a capable model asked for 1–3 short sentences that writes more has wandered

# A place list misses small towns and buildings, so only these kinds refuse when no sentence has one.
GATED_KINDS = ("date", "count", "duration")
# Logits for a sentence with (without) the kind of fact asked for. What someone said is often
# reported without quotation marks, so a sentence without them is not pushed down.
KIND_BONUS, KIND_MISS = compose.KIND_BONUS, {"quote": 0.0}


@dataclass
class Sentence:
    """An evidence unit: one sentence, or two adjacent ones, inside a candidate passage."""

    passage_rank: int  # index into Plan.passages
    start: int  # offsets inside the passage text
    end: int
    text: str
    score: float = 0.0  # cross-encoder logit of (question, text)
    rank_score: float = 0.0  # score plus the passage's and the expected-kind terms, for ranking
    gates: bool = True  # counts for the confidence gate (see plan)


@dataclass
class Plan:
    question: str
    passages: list[ScoredPassage]  # the candidates considered, best first
    sentences: list[Sentence] = field(default_factory=list)  # evidence units, best first
    tier: str = "answer"  # "answer", "closest" or "refused"
    reason: str = ""  # why not "answer", in words the user is shown
    # Refused because the question's names are absent (or nothing was retrieved): no model is
    # asked. The other refusals are the small model's gates, which a capable model overrides.
    names_absent: bool = False
    searched: str = ""  # the question the plan was built for (a follow-up's rewrite)
    candidates: list[ScoredPassage] = field(default_factory=list)  # every passage read, before the far weaker ones were dropped
    context: list[ScoredPassage] = field(default_factory=list)  # the passages beside the best ones, for a capable model
    # The evidence units in their order before the headline re-read: the order a capable model's
    # passages are chosen in (with the re-read order, replay: 1 faithful reply fewer kept and 1
    # planted claim fewer caught on replies_check3, citation precision 0.804 → 0.787 on replies).
    untitled: list[Sentence] = field(default_factory=list)

    @property
    def refused(self) -> bool:
        return self.tier == "refused"

    @property
    def best(self) -> Sentence:
        return self.sentences[0]


def answer_threshold(base: float, question: str, follow_up: bool = False) -> float:
    """The evidence score a question needs. Cross-encoder logits fall as a question grows longer
    (a 30-word quiz question is never matched whole by one sentence), so long questions need less;
    a follow-up carries its conversation, which dilutes the score the same way. (Counting only a
    follow-up's own words for the slope kept 4 more unanswerable questions out of the answer tier
    and 9 right answers too on sets it was not chosen on: not taken, docs/EVALUATION.md session 13.)"""
    words = len(question.split())
    return base - LONG_QUESTION_SLOPE * max(0, words - LONG_QUESTION_WORDS) - (FOLLOW_UP_MARGIN if follow_up else 0.0)


def _overlap(words: set[str], text: str, question: str, kind: str | None, noun: str | None) -> int:
    """How many of the question's words (Porter stems) `text` shares, the kind of fact and the
    category asked for counting as one more word each: how sentences and pairs are chosen for the
    cross-encoder."""
    return len(words & porter_words(text)) + (1 if kind and has_kind(text, kind, question) else 0) + names_noun(text, noun)


def _most_overlapping(question: str, sentences: list[Sentence], n: int, kind: str | None, noun: str | None = None) -> list[Sentence]:
    """The n sentences that share the most words (Porter stems) with the question, counting the
    kind of fact asked for and the category asked for as one more word each, and half the better
    neighbour's count ("… a phone call took place. It lasted 50 minutes."); ties go to the better
    passage. The cross-encoder is the
    costly step (about 60 % of an answer's time), so it reads these only."""
    if len(sentences) <= n:
        return sentences
    words = porter_words(question)
    own = [_overlap(words, u.text, question, kind, noun) for u in sentences]

    def neighbour(i: int) -> int:
        same = [j for j in (i - 1, i + 1) if 0 <= j < len(sentences) and sentences[j].passage_rank == sentences[i].passage_rank]
        return max((own[j] for j in same), default=0)

    order = sorted(range(len(sentences)), key=lambda i: own[i] + 0.5 * neighbour(i), reverse=True)
    return [sentences[i] for i in sorted(order[:n])]


def _overlapping_pairs(question: str, spans: list[list[tuple[int, int]]], passages: list[ScoredPassage], n: int, kind: str | None, noun: str | None) -> list[tuple[int, int]]:
    """(passage rank, first sentence index) of the n adjacent pairs sharing most words with the
    question (the kind and category asked for count as a word each); ties go to the better passage."""
    if n <= 0:
        return []
    words = porter_words(question)
    scored = []
    for rank, c in enumerate(passages):
        text = c.passage.text
        for i in range(len(spans[rank]) - 1):
            pair = text[spans[rank][i][0] : spans[rank][i + 1][1]]
            scored.append((-_overlap(words, pair, question, kind, noun), rank, i))
    return [(rank, i) for _, rank, i in sorted(scored)[:n]]


def evidence_passages(retrieved: list[ScoredPassage], n: int, per_article: int = 2, best_passages: int = 2, rest: list[ScoredPassage] | None = None) -> list[ScoredPassage]:
    """The passages whose sentences are scored: the best two of each top article, in article order,
    plus the best passages by their own fused score when those belong to lower-ranked articles,
    then `rest`, the other passages of the leading articles (retrieval's `Retrieval.rest`).

    Retrieval ranks articles; the fact asked for is often in another passage of the article than
    the best one (that one matched the question's words, another holds the date or number). A short
    article with one strong passage ranks low as an article, so its passage is added on its own."""
    by_article: dict[str, list[ScoredPassage]] = {}
    for c in retrieved:
        by_article.setdefault(c.passage.article_id, []).append(c)
    chosen = [c for group in by_article.values() for c in group[:per_article]][: max(1, n)]
    articles = {c.passage.article_id for c in chosen}
    extra = [c for c in sorted(retrieved, key=lambda c: c.score, reverse=True) if c.passage.article_id not in articles][:best_passages]
    have = {c.passage.id for c in chosen + extra}
    return chosen + extra + [c for c in rest or [] if c.passage.id not in have]


class AnswerBuilder:
    def __init__(self, settings: Settings, cross_encoder, prompts_dir: Path | None = None):
        self.settings = settings
        self.cross_encoder = cross_encoder
        self.prompts = _load_prompts(prompts_dir or Path(__file__).resolve().parent.parent / "prompts")

    # --- planning ------------------------------------------------------------------------------
    def plan(self, question: str, retrieved: list[ScoredPassage], follow_up: bool = False, asked: str | None = None, rest: list[ScoredPassage] | None = None) -> Plan:
        """`follow_up`: the question carries its conversation ("… (about: …)"), which dilutes the
        cross-encoder's scores, so the answerability gate is relaxed by a fixed margin.
        `asked`: the user's own words when `question` is a rewrite; its names must be in the evidence.
        `rest`: the leading articles' other passages, read for evidence too."""
        s = self.settings
        plan = Plan(question, evidence_passages(retrieved, s.evidence_passages, rest=rest), searched=question)
        if not plan.passages:
            plan.tier, plan.reason, plan.names_absent = "refused", "no passage matches the question", True
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

        def add_pair(rank: int, first: int) -> None:
            ss = spans[rank]
            # Adjacent in the text: a question sentence between them was dropped above.
            if 0 <= first and first + 1 < len(ss) and (rank, first) not in pairs and _adjacent(plan.passages[rank].passage.text, ss[first], ss[first + 1]):
                text = plan.passages[rank].passage.text
                pairs[(rank, first)] = Sentence(rank, ss[first][0], ss[first + 1][1], text[ss[first][0] : ss[first + 1][1]])

        for u in sorted(singles, key=lambda x: x.score, reverse=True)[:PAIRED_SENTENCES]:
            i = next(j for j, (a, _) in enumerate(spans[u.passage_rank]) if a == u.start)
            for first in (i - 1, i):
                add_pair(u.passage_rank, first)
        # A sentence that leans on the one before it ("In this case, Washington will …", "The
        # State Department called such a prospect 'very unlikely'") scores as noise alone, so
        # the pairs sharing most words with the question are read whole too.
        around_best = set(pairs)
        for rank, first in _overlapping_pairs(question, spans, plan.passages, SCORED_PAIRS, kind, noun):
            add_pair(rank, first)
            if (rank, first) in pairs and (rank, first) not in around_best:
                pairs[(rank, first)].gates = False
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
        plan.candidates = sorted(plan.passages, key=lambda c: c.score, reverse=True)
        plan.passages = [plan.passages[r] for r in order]
        units = [u for u in units if u.passage_rank in new_rank]
        for u in units:
            u.passage_rank = new_rank[u.passage_rank]
        # Retrieval's article order is the better judge of which article a quiz-like question is
        # about (RealTimeQA: top article right 74 %, the cross-encoder's pick 40 %); the
        # cross-encoder then picks the sentence within the leading articles.
        article_rank = {aid: r for r, aid in enumerate(dict.fromkeys(c.passage.article_id for c in retrieved))}
        for u in units:
            u.rank_score = (
                u.score
                + 0.3 * plan.passages[u.passage_rank].score
                + (KIND_BONUS if has_kind(u.text, kind, question) else -KIND_MISS.get(kind, 4.0) if kind else 0.0)
                - ARTICLE_RANK_WEIGHT * min(MAX_ARTICLE_RANK, article_rank.get(plan.passages[u.passage_rank].passage.article_id, 0))
            )
        # The best units are read again with their headline before them: "It lasted 50 minutes"
        # or "He said …" tells the cross-encoder nothing of who or what, the headline does.
        # Only the ranking changes; the confidence gate reads the sentences alone, as calibrated.
        plan.untitled = sorted(units, key=lambda u: u.rank_score, reverse=True)
        head = [(u, t) for u in plan.untitled[:TITLED_UNITS] if (t := plan.passages[u.passage_rank].passage.title.strip())]
        if head:
            for (u, _), sc in zip(head, self.cross_encoder.score(question, [f"{t}. {u.text}" for u, t in head])):
                u.rank_score += float(sc) - u.score
        plan.sentences = sorted(units, key=lambda u: u.rank_score, reverse=True)
        # The confidence gate reads the sentences and the pairs around the best of them, as it was
        # calibrated: the pairs added for their words only pick the evidence, since two sentences
        # read together score higher on unanswerable questions too (evals/bundled.jsonl: 0 → 2 of
        # 12 unanswerable given as answers when they counted).
        best_unit = max((x.score for x in units if x.gates), default=float("-inf"))
        # What the name and category gates look in: every candidate passage, titles included, and
        # the leading articles' other passages, which are read for evidence too (check6_realtimeqa,
        # first run: 7 of 57 answerable questions refused as "No passage mentions Uganda" while the
        # article naming it led the retrieval).
        candidate_text = " ".join(f"{c.passage.title} {c.passage.text}" for c in [*retrieved, *(rest or [])])
        candidates = candidate_text.lower()
        # Nothing relevant refuses; relevant passages that do not clearly answer are shown as the
        # closest. The order only picks the reason the user is shown, most specific first.
        if missing := missing_names(written(asked) if asked else question, candidate_text):
            plan.tier, plan.reason, plan.names_absent = "refused", f"no passage mentions {missing[0]}", True
        elif best_unit < NOISE_LOGIT:
            plan.tier, plan.reason = "refused", "no passage is about this question"
        elif noun and stem5(noun) not in candidates:
            # The passages may name it only by example ("which insect" → "bumblebees").
            plan.tier, plan.reason = "closest", f"no passage names the {noun} asked for"
        elif kind in GATED_KINDS and not any(has_kind(x.text, kind, question) for x in plan.sentences[:3]):
            plan.tier, plan.reason = "closest", f"no passage states the {kind} asked for"
        elif best_unit < answer_threshold(s.answer_threshold, question, follow_up):
            plan.tier, plan.reason = "closest", "no sentence answers the question clearly"
        elif asks_what_happened(question) and PROSPECTIVE.search(plan.best.text):
            # "Did Putin attend the summit?" answered by "Putin has not yet decided whether he will" is
            # an answer from before the event: the articles do not say how it turned out.
            plan.tier, plan.reason = "closest", "the passages only say what was expected to happen"
        return plan

    def _score(self, question: str, units: list[Sentence]) -> None:
        for u, sc in zip(units, self.cross_encoder.score(question, [u.text for u in units])):
            u.score = float(sc)

    # --- answers without a generator ------------------------------------------------------------
    def refusal(self, plan: Plan) -> Answer:
        # Why, in one line ("No passage mentions Xi."): a user can tell a question the
        # articles miss from one worded so that nothing matched, and rephrase.
        why = plan.reason[:1].upper() + plan.reason[1:] + "." if plan.reason else ""
        return Answer(plan.question, REFUSAL_TEXT, True, [], "refused", notice=why, tier="refused")

    def extractive(self, plan: Plan, mode: str = "extractive", notice: str = "", tier: str | None = None) -> Answer:
        tier = tier or plan.tier
        if tier == "refused" or not plan.sentences:
            return self.refusal(plan)
        if tier == "closest":
            text, cites = compose.closest(plan.question, plan.passages, plan.sentences, self.cross_encoder)
            return Answer(plan.question, text, False, cites, mode, notice=notice, tier="closest")  # type: ignore[arg-type]
        text, short, cites = compose.confident(plan.question, plan.passages, plan.best, self.cross_encoder)
        sentences = [verify.CheckedSentence(text.removesuffix(" [1]"), [1], True)]  # the quote, backed by its own passage
        return Answer(plan.question, text, False, cites, mode, notice=notice, tier="answer", short_answer=short, sentences=sentences)  # type: ignore[arg-type]

    # --- generation -----------------------------------------------------------------------------
    def wants_generation(self, plan: Plan, capable: bool) -> bool:
        """A capable model judges answerability itself; the small one answers confident evidence only."""
        if capable:
            return not plan.names_absent and bool(plan.sentences)
        return plan.tier == "answer"

    def messages(self, plan: Plan, capable: bool, history: list[Turn] | None = None) -> list[dict]:
        """Chat messages for the generator: the top passages numbered, with their title, source and
        date, and the last turns for a capable model; the one best sentence for the small one."""
        if capable:
            body = "\n\n".join(_passage_block(i + 1, c) for i, c in enumerate(self.given(plan, True)))
            msgs = [{"role": "system", "content": self.prompts["answer_system_capable"].strip()}]
            for t in (history or [])[-3:]:
                msgs += [{"role": "user", "content": t.question}, {"role": "assistant", "content": t.answer[:600]}]
            msgs.append({"role": "user", "content": self.prompts["answer_user_capable"].format(passages=body, question=plan.question)})
            return msgs
        # A 135M model is reliable on a sentence or two and wanders on a whole passage.
        c = plan.passages[plan.best.passage_rank]
        user = self.prompts["answer_user"].format(passages=f"Article: {c.passage.title}\nPassage: {plan.best.text}", question=plan.question)
        return [{"role": "system", "content": self.prompts["answer_system"].strip()}, {"role": "user", "content": user}]

    def given(self, plan: Plan, capable: bool) -> list[ScoredPassage]:
        """The passages a capable model sees: those holding the best sentences first, then the
        other candidates, top_k + 2 in all, even those the cross-encoder's noise cut dropped. Eight
        kept no more faithful replies on evals/replies.jsonl and let 3 more planted claims find a
        passage to be re-cited to (caught 0.86 → 0.73). The small model sees the best sentence's
        passage only."""
        if not capable:
            return [plan.passages[plan.best.passage_rank]]
        ordered = [plan.passages[u.passage_rank] for u in plan.untitled or plan.sentences] + plan.passages + plan.candidates
        unique = list({c.passage.id: c for c in ordered}.values())[: max(1, self.settings.model_passages)]
        have = {c.passage.id for c in unique}
        return unique + [c for c in plan.context if c.passage.id not in have]

    def finish(self, plan: Plan, generated: str, capable: bool, backend: str) -> Answer:
        text = _tidy(generated)
        if not text or NOT_FOUND_MARK.lower() in text.lower() or _sounds_like_refusal(text):
            if capable:
                # The model read the passages and found no answer: show what comes closest.
                return self.extractive(plan, "extractive", tier="refused" if plan.refused else "closest")
            return self.extractive(plan, "fallback")
        return self._finish_capable(plan, text, backend) if capable else self._finish_small(plan, text, backend)

    def _finish_small(self, plan: Plan, text: str, backend: str) -> Answer:
        """The 135M model's answer is kept only when every word of it is in its one sentence and it
        says something the question does not; otherwise the sentence is quoted, labelled "quoted"
        in the page (a fallback without a notice), not announced as a fault."""
        best = plan.best
        plain = " ".join(sentence for sentence, _ in verify.split_cited(text)) or text
        if not verify.small_model_supported(plain, best.text) or not has_kind(plain, expected_kind(plan.question), plan.question):
            return self.extractive(plan, "fallback")
        new_words = porter_words(plain) - porter_words(plan.question)
        if not new_words or names_only_the_asked(plain, plan.question) or len(plain.split()) > 80:
            return self.extractive(plan, "fallback")
        cite = compose.citation(1, plan.passages[best.passage_rank], best.start, best.end)
        short = compose.short_answer(plan.question, plain, self.cross_encoder)
        return Answer(plan.question, f"{plain} [1]", False, [cite], "generated", backend=backend, tier="answer",
                      short_answer=short, sentences=[verify.CheckedSentence(plain, [1], True)])  # fmt: skip

    def _finish_capable(self, plan: Plan, text: str, backend: str) -> Answer:
        """Each sentence is kept; it is supported when a passage it cites says it (re-cited to
        another given passage that does when the cited one does not), else marked unsupported."""
        given = self.given(plan, True)
        meta = [_evidence_meta(c) for c in given]
        premises = f"{plan.question}\n{plan.searched}"  # what the user asked is not a claim to check
        cites: dict[int, Citation] = {}
        checked: list[verify.CheckedSentence] = []
        out: list[str] = []
        for sentence, markers in verify.split_cited(text)[:8]:
            marked = [m - 1 for m in markers if 1 <= m <= len(given)]
            others = [i for i in range(len(given)) if i not in marked]
            supported_by: list[tuple[int, tuple[int, int]]] = []
            reason = "no passage was cited" if not marked else ""
            # The passages it cites first; only when none of them says it, the others. When a cited
            # passage says the claim with other facts ("three rounds" for "two rounds"), another
            # passage must say it at least as closely to take the citation: a loosely related
            # sentence elsewhere holding "two" is no evidence against the one that says "three".
            conflict = float("-inf")
            for group in (marked, others):
                for i in group:
                    found = verify.support(sentence, meta[i], given[i].passage.text, self.cross_encoder, premises)
                    if found.ok and found.span and (group is marked or found.score >= conflict):
                        supported_by.append((i, found.span))
                    elif group is marked:
                        conflict = max(conflict, found.conflict)
                        reason = reason or found.why
                if supported_by:
                    break
            # A sentence joining claims is supported only when each is said by a passage it cites
            # or one that says the whole sentence.
            parts = verify.clauses(sentence) if supported_by else []
            if len(parts) > 1:
                where = list(dict.fromkeys([i for i, _ in supported_by] + marked))
                for part in parts:
                    if not any(verify.support(part, meta[i], given[i].passage.text, self.cross_encoder, premises).ok for i in where):
                        supported_by, reason = [], f"the passages do not say that {part[:1].lower()}{part[1:]}"
                        break
            numbers = []
            for i, (a, b) in supported_by[:2]:
                if i not in cites:
                    cites[i] = compose.citation(len(cites) + 1, given[i], a, b)
                numbers.append(cites[i].n)
            checked.append(verify.CheckedSentence(sentence, numbers, bool(numbers), "" if numbers else reason or "the passages do not say this"))
            out.append(sentence + "".join(f" [{n}]" for n in numbers))
        # An answer no passage supports (or that wandered on) is shown as the quote it falls back
        # to, labelled "quoted" in the page: a notice is for a backend fault (issue #14).
        if not any(c.supported for c in checked) or sum(len(c.text.split()) for c in checked) > MAX_GENERATED_WORDS:
            return self.extractive(plan, "fallback")
        short = compose.short_answer(plan.question, next(c.text for c in checked if c.supported), self.cross_encoder)
        return Answer(plan.question, " ".join(out), False, list(cites.values()), "generated", backend=backend, tier="answer", short_answer=short, sentences=checked)


def _passage_block(n: int, sp: ScoredPassage) -> str:
    p = sp.passage
    meta = ", ".join(x for x in (p.source, f"published {p.published}" if p.published else "") if x)
    return f"[{n}] {p.title}" + (f" ({meta})" if meta else "") + f"\n{p.text}"


def _evidence_meta(sp: ScoredPassage) -> str:
    """What a claim's names and dates may also come from: the headline, the outlet, the date."""
    import calendar

    p = sp.passage
    month = calendar.month_name[int(p.published[5:7])] if len(p.published or "") >= 7 and p.published[5:7].isdigit() and 1 <= int(p.published[5:7]) <= 12 else ""
    return f"{p.title}\n{p.source}\n{p.published} {month}"


def _is_question(sentence: str) -> bool:
    return sentence.rstrip(" \t\n\"'”’)").endswith("?")


def _adjacent(text: str, first: tuple[int, int], second: tuple[int, int]) -> bool:
    return not text[first[1] : second[0]].strip()


def _tidy(text: str) -> str:
    text = text.strip()
    # Quotes around the whole reply go; a reply that ends by quoting someone keeps its closing quote
    # (replies_check3 z19, z43 lost theirs and with them the sentence).
    if len(text) > 1 and text[0] == text[-1] == '"' and '"' not in text[1:-1]:
        text = text[1:-1].strip()
    text = re.sub(r"^(short answer|answer)\s*:\s*", "", text, flags=re.IGNORECASE)
    return re.sub(r"[ \t]+", " ", text).strip()


def _sounds_like_refusal(text: str) -> bool:
    return bool(re.search(r"\b(not (mentioned|stated|provided|specified|given|in the (passages?|articles?))|no information|do(es)? not (say|mention|specify|provide|state)|cannot (answer|determine)|i don'?t know)\b", text[:200], re.IGNORECASE))


def _load_prompts(folder: Path) -> dict[str, str]:
    names = ("answer_system", "answer_user", "answer_system_capable", "answer_user_capable", "rewrite")
    missing = [n for n in names if not (folder / f"{n}.txt").is_file()]
    if missing:
        raise FileNotFoundError(f"Prompt files missing from {folder}: {', '.join(missing)}")
    return {n: (folder / f"{n}.txt").read_text(encoding="utf-8") for n in names}
