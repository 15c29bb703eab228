"""Sentence-level checking of a capable model's answer (issue #13): the normalisations that let a
paraphrase through and the tests that catch what a paraphrase hides, on the real cross-encoder
and, end to end, through a real OpenAI-protocol server over the bundled articles."""

from __future__ import annotations

import pytest

from byline import Engine
from byline.onnx_models import shared_cross_encoder
from byline.nltk_data import sentence_spans
from byline.verify import clauses, facts_missing, split_cited, support
from conftest import make_settings
from support.fake_openai import FakeOpenAIServer
from support.replay_openai import parse_prompt


@pytest.mark.parametrize(
    "claim, evidence, missing",
    [
        # The parties already named are no count; rounds of talks are.
        ("The two presidents agreed to return their ambassadors.", "Putin and Biden agreed to return the ambassadors.", []),
        ("Both sides will discuss arms control.", "Russia and the United States will discuss arms control.", []),
        ("Biden called the two rounds of talks fruitless.", "He considers three rounds of negotiations fruitless.", ["2"]),
        # A capital stands for its state, either way round.
        ("Washington is ready for diplomacy with Moscow.", "the US is prepared to engage in diplomacy with Russia", []),
        ("Officials in Russia rejected the plan.", "Officials in Moscow rejected the plan.", []),
        ("Officials in Kyiv asked for more air defence.", "Officials in Ukraine asked for more air defence.", []),
        ("Officials in Paris rejected the plan.", "Officials in Moscow rejected the plan.", ["Paris"]),
        # A figure is its value, however it is written ("over 60 years" for "more than six decades").
        ("He was the voice of the Dodgers for over 60 years.", "the voice of the Los Angeles Dodgers for more than six decades", []),
        ("The company paid 1.5 million dollars.", "The company paid $1,500,000.", []),
        ("The company paid $1,500,000.", "The company paid $1.5 million.", []),
        ("Musk agreed to pay $45 billion.", "Musk agreed to pay $44bn.", ["45"]),
    ],
)
def test_facts_a_paraphrase_may_write_another_way(claim, evidence, missing):
    assert facts_missing(claim, evidence) == missing


def test_markers_after_the_full_stop_stay_with_their_sentence():
    """Models write "… in June 2021. [1]" as often as "… in June 2021 [1]."; the marker after the
    stop opened the next span and was given to the next sentence."""
    assert split_cited("The summit was in Geneva. [1] The call lasted 50 minutes. [2]") == [
        ("The summit was in Geneva.", [1]), ("The call lasted 50 minutes.", [2])]
    assert split_cited("The summit was in Geneva [1]. The call lasted 50 minutes.[2][3]") == [
        ("The summit was in Geneva.", [1]), ("The call lasted 50 minutes.", [2, 3])]


def test_a_rank_or_a_title_does_not_end_a_sentence():
    """punkt cut "ranked No. 49" after "No." (replies_check4 w54 lost its citation to it)."""
    assert split_cited("Niemann is ranked No. 49 in the world. [1] He met Gov. Newsom. [2]") == [
        ("Niemann is ranked No. 49 in the world.", [1]), ("He met Gov. Newsom.", [2])]
    text = "Niemann is ranked No. 49 in the world. The answer was no. 5 people came."
    assert [text[a:b] for a, b in sentence_spans(text, quotable=True)][0] == "Niemann is ranked No. 49 in the world."


def test_a_sentence_joining_claims_is_split_into_them():
    assert clauses("The strike killed al Qaeda leader Ayman al-Zawahiri, and a second strike the next day killed his deputy.") == [
        "The strike killed al Qaeda leader Ayman al-Zawahiri",
        "a second strike the next day killed his deputy",
    ]
    assert clauses("Biden and Putin met in Geneva in June 2021.") == ["Biden and Putin met in Geneva in June 2021."]
    assert clauses("It rained, and more.") == ["It rained, and more."]  # a short tail is no claim of its own


def test_a_passage_saying_the_claim_with_another_figure_is_a_conflict():
    ce = shared_cross_encoder(2)
    passage = "He added that he considers three rounds of negotiations with Russian representatives on security guarantees to be fruitless."
    said = support("Biden called the three rounds of talks with Russian representatives fruitless.", "", passage, ce)
    assert said.ok and said.span and said.score > 0
    other = support("Biden called the two rounds of talks with Russian representatives fruitless.", "", passage, ce)
    assert not other.ok and "2" in other.why
    assert other.conflict > 5.0, "the passage says the claim closely, with other facts"
    unrelated = support("The Kremlin spokesman is Dmitry Peskov.", "", passage, ce)
    assert not unrelated.ok and unrelated.conflict == float("-inf")


@pytest.fixture
def capable(bundled_dir, bundled_engine):
    with FakeOpenAIServer(reply="") as server:
        engine = Engine(make_settings(bundled_dir, backend="openai-compatible", base_url=server.base_url, model="fake-model", api_key="k"))
        try:
            yield server, engine
        finally:
            engine.close()


def _ask_citing(capable, question: str, phrase: str, reply: str):
    """`question` answered with `reply`, whose "{n}" becomes the number the prompt gave the
    passage holding `phrase` (found by asking once with a refusing model)."""
    server, engine = capable
    server.reply = "NOT IN THE ARTICLES"
    engine.ask(question)
    _, numbered = parse_prompt("\n".join(m["content"] for m in server.requests[-1]["messages"]))
    server.reply = reply.format(n=next(n for n, t in numbered.items() if phrase in t))
    return engine.ask(question)


def test_a_capital_for_its_state_is_supported_end_to_end(capable):
    answer = _ask_citing(
        capable, "What did Blinken tell Lavrov the US is prepared to do?", "serious diplomacy",
        "Blinken told Lavrov that Washington is ready for serious diplomacy with Moscow on a reciprocal basis [{n}].",
    )  # fmt: skip
    assert answer.mode == "generated"
    assert answer.sentences[0].supported, answer.sentences[0].reason
    assert "serious diplomacy" in answer.citations[0].passage


def _second_sentence_flagged(capable, question: str, phrase: str, reply: str):
    """The reply's second sentence, after checking that the answer is kept with its true first
    sentence supported and the second marked unsupported."""
    answer = _ask_citing(capable, question, phrase, reply)
    assert answer.mode == "generated"
    first, second = answer.sentences
    assert first.supported, first.reason
    assert not second.supported, second
    return second


def test_an_invented_clause_joined_to_a_true_one_is_marked_unsupported(capable):
    # The whole sentence scores well above the support threshold; its invented clause does not.
    second = _second_sentence_flagged(
        capable, "How long did the Putin-Biden telephone conversation last?", "50 minutes",
        "The call lasted about 50 minutes [{n}]. The Putin-Biden telephone conversation lasted approximately 50 minutes, and the two leaders signed a treaty banning weapons in space at the end of it [{n}].",
    )  # fmt: skip
    assert "signed a treaty" in second.reason, second.reason


def test_a_claim_the_passage_only_touches_on_is_marked_unsupported(capable):
    """Every name of "Peskov said the interview would be broadcast on state television" is in the
    passage and its best sentence ("As press Secretary Dmitry Peskov clarified, this is 'a matter
    of the future'") scores just under 1 logit for it: said by nobody (verify.SUPPORT_LOGIT)."""
    _second_sentence_flagged(
        capable, "What did Peskov say about a new meeting between Putin and Biden?", "a matter of the future",
        "Peskov called a new meeting a matter of the future [{n}]. Peskov said the interview would be broadcast on state television [{n}].",
    )  # fmt: skip


def test_a_claim_the_cited_passage_contradicts_is_not_recited_to_a_looser_one(capable):
    question = "How many rounds of negotiations with Russia did Biden describe as fruitless?"
    phrase = "three rounds of negotiations with Russian representatives"
    right = _ask_citing(capable, question, phrase, "Biden called the three rounds of talks with Russian representatives fruitless [{n}].")
    assert right.sentences[0].supported
    wrong = _ask_citing(capable, question, phrase, "Biden called the two rounds of talks with Russian representatives fruitless [{n}].")
    # The whole answer falls back to the quote: no sentence of it is supported.
    assert wrong.mode == "fallback" and "three rounds" in wrong.answer


def test_a_reply_ending_in_a_quotation_keeps_its_closing_quote():
    from byline.answer import _tidy

    assert _tidy('Truss walked out to the hit "Moving on Up [1]."') == 'Truss walked out to the hit "Moving on Up [1]."'
    assert _tidy('"The summit was held in Geneva [1]."') == "The summit was held in Geneva [1]."  # quotes around it all go
