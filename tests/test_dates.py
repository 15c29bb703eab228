"""The question date: "this week" read against when the question was asked, on a real index."""

from __future__ import annotations


import pytest

from byline.dates import mentions_recent_time, published_day

ARTICLE = """---
id: {id}
title: "{title}"
source: Varn Courier
published: {date}
---
{body}
"""

STORIES = {
    "bridge_march": ("2024-03-04", "Varn bridge closed for repairs", "The mayor of Varn closed the old stone bridge on Monday for repairs. Engineers found cracks in two arches."),
    "bridge_june": ("2024-06-10", "Varn bridge reopens", "The mayor of Varn reopened the old stone bridge on Monday after repairs. Buses use it again from Tuesday."),
    "library": ("2024-06-11", "Varn library gets a new wing", "The Varn library opened a new wing with 20,000 books. The mayor cut the ribbon."),
}
QUESTION = "What did the mayor of Varn do with the old stone bridge this week?"


@pytest.fixture(scope="module")
def dated_engine(tmp_path_factory):
    from byline import Engine
    from conftest import make_settings

    tmp = tmp_path_factory.mktemp("dated")
    corpus = tmp / "corpus"
    corpus.mkdir()
    for aid, (date, title, body) in STORIES.items():
        (corpus / f"{aid}.md").write_text(ARTICLE.format(id=aid, title=title, date=date, body=body), encoding="utf-8")
    engine = Engine(make_settings(tmp, corpus_dir=corpus))
    engine.ingest()
    yield engine
    engine.close()


def _articles(engine: object, question_date: str | None) -> list[str]:
    result = engine.retriever.retrieve(QUESTION, question_date=question_date)
    return list(dict.fromkeys(p.passage.article_id for p in result.passages))


def test_the_question_date_picks_that_weeks_article(dated_engine):
    assert _articles(dated_engine, "2024-03-06") == ["bridge_march"]  # June was not yet written
    june = _articles(dated_engine, "2024-06-12")
    assert june[0] == "bridge_june" and "bridge_march" not in june  # March is older than the window
    answer = dated_engine.ask(QUESTION, question_date="2024-03-06")
    assert not answer.refused and answer.citations[0].article_id == "bridge_march" and "closed" in answer.answer


def test_without_a_date_or_with_an_empty_window_the_whole_archive_is_searched(dated_engine):
    assert {"bridge_march", "bridge_june"} <= set(_articles(dated_engine, None))
    assert {"bridge_march", "bridge_june"} <= set(_articles(dated_engine, "2030-01-01"))  # nothing published that week


def test_recent_time_words_and_dates():
    assert mentions_recent_time("What did the council decide this week?")
    assert mentions_recent_time("Which company recently cut prices?")
    assert not mentions_recent_time("When was the Geneva summit?")
    assert published_day("2024-03-04") - published_day("2024-02-26") == 7
    assert published_day("") is None and published_day("March 2024") is None
