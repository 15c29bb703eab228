"""The search data kept per publication period (issue #16), on a real Chroma store and the real
embedder: a change rebuilds only the periods it touched, a machine with an empty cache reads only
the periods a dated question needs, and a window across two periods finds both sides."""

from __future__ import annotations

import shutil
from pathlib import Path

from byline.dates import published_day
from byline.period_index import day_range, period_of, periods_for

DATED = """---
id: {id}
title: "{title}"
source: Test Wire
published: {date}
---
{body}
"""
UNDATED = """---
id: {id}
title: "{title}"
source: Test Wire
---
{body}
"""

TOPICS = ["harbour", "railway", "library", "stadium", "airport", "museum"]


def write(folder: Path, aid: str, title: str, body: str, date: str | None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    text = (DATED if date else UNDATED).format(id=aid, title=title, body=body, date=date)
    (folder / f"{aid}.md").write_text(text, encoding="utf-8")


def archive(corpus: Path) -> None:
    """Six articles in each of 2022, 2023 and 2024, one undated."""
    for year in (2022, 2023, 2024):
        for k, topic in enumerate(TOPICS):
            write(corpus, f"y{year}_{topic}", f"The {topic} of Elin {year}", f"The {topic} of Elin reopened in {year} after repairs. Crowds visited the {topic} on day {k}.", f"{year}-06-1{k}")
    write(corpus, "nodate_lighthouse", "The lighthouse of Elin", "The lighthouse of Elin was repainted red and white by volunteers.", None)


def reads_of(store) -> list[dict]:
    """Every read of the articles collection from now on (what a second machine pulls from a server)."""
    calls: list[dict] = []
    original = store.articles_col.get
    store.articles_col.get = lambda *a, **kw: calls.append(kw) or original(*a, **kw)
    return calls


def periods_read(calls: list[dict]) -> set[str]:
    out = set()
    for kw in calls:
        where = kw.get("where") or {}
        if where.get("period"):
            out.add(where["period"])
        for clause in where.get("$and", []):
            if "$gte" in clause.get("published_day", {}):
                out.add(period_of(clause["published_day"]["$gte"]))
    return out


def test_periods_and_windows():
    assert period_of(published_day("2024-02-29")) == "2024" and period_of(None) == "undated"
    assert day_range("2024") == (published_day("2024-01-01"), published_day("2024-12-31"))
    assert day_range("2023-12") == (published_day("2023-12-01"), published_day("2023-12-31"))
    window = (published_day("2023-12-28"), published_day("2024-01-03"))
    assert periods_for(window, {"2022", "2023", "2024", "undated"}) == ["2023", "2024", "undated"]
    assert periods_for(None, {"2022", "undated"}) == ["2022", "undated"]


def test_a_change_rebuilds_only_the_period_it_touches(fresh, tmp_path):
    corpus = tmp_path / "corpus"
    archive(corpus)
    engine = fresh()
    engine.ingest()
    assert set(engine.store.period_tokens()) == {"2022", "2023", "2024", "undated"}
    engine.store.warm()
    cache = tmp_path / "index" / "bm25"
    before = {p.name for p in cache.rglob("*") if p.is_dir() and p.parent.name == engine.settings.collection}
    assert len(before) == 4

    write(corpus, "y2023_aquarium", "The aquarium of Elin", "The aquarium of Elin opened its shark tank in 2023.", "2023-07-01")
    engine.ingest()
    calls = reads_of(engine.store)
    hits = engine.store.keyword_search("aquarium shark tank", 3)
    assert hits[0][0].startswith("y2023_aquarium#")
    assert periods_read(calls) == {"2023"}  # the other periods come from their caches
    after = {p.name for p in cache.rglob("*") if p.is_dir() and p.parent.name == engine.settings.collection}
    assert len(after) == 4 and len(before & after) == 3 and not any(n.startswith("2023-") for n in before & after)

    # A removal touches its period too; the undated article is searched in every window.
    engine.delete_article("y2023_aquarium")
    assert not [pid for pid, _ in engine.store.keyword_search("aquarium shark tank", 3) if pid.startswith("y2023_aquarium")]
    window = (published_day("2024-06-01"), published_day("2024-06-30"))
    found = engine.store.keyword_search("lighthouse repainted volunteers", 3, window)
    assert found and found[0][0].startswith("nodate_lighthouse#")
    engine.close()


def test_an_empty_cache_reads_only_the_periods_of_the_question(fresh, tmp_path):
    """A second machine on the same store (its local cache folder empty) answers a dated question
    after reading the articles of that question's period, not the archive."""
    corpus = tmp_path / "corpus"
    archive(corpus)
    engine = fresh()
    engine.ingest()
    engine.close()
    shutil.rmtree(tmp_path / "index" / "bm25", ignore_errors=True)

    second = fresh()
    calls = reads_of(second.store)
    answer = second.ask("when did the museum reopen?", question_date="2023-06-20")
    assert answer.citations and answer.citations[0].article_id == "y2023_museum"
    assert periods_read(calls) == {"2023", "undated"}
    read_ids = [i for kw in calls for i in kw.get("ids") or []]
    assert all(i.startswith("y2023_") for i in read_ids)  # the passages it quotes, and nothing else
    second.close()

    third = fresh()  # a new process on that machine: the periods come from its cache
    calls = reads_of(third.store)
    assert third.ask("when did the museum reopen?", question_date="2023-06-20").citations
    assert periods_read(calls) == set()
    third.close()


def test_a_window_across_two_periods_searches_both(fresh, tmp_path):
    corpus = tmp_path / "corpus"
    write(corpus, "dec_ferry", "Ferry timetable changes", "The winter ferry timetable for Elin starts with fewer sailings.", "2023-12-30")
    write(corpus, "jan_ferry", "Ferry timetable restored", "The ferry timetable for Elin is restored with more sailings.", "2024-01-02")
    write(corpus, "old_ferry", "Ferry timetable of old", "An old ferry timetable for Elin was found in a museum.", "2023-03-01")
    engine = fresh()
    engine.ingest()
    window = (published_day("2023-12-28"), published_day("2024-01-03"))
    keyword = {pid.split("#")[0] for pid, _ in engine.store.keyword_search("ferry timetable sailings", 10, window)}
    assert keyword == {"dec_ferry", "jan_ferry"}
    vec = engine.embedding.embed_query("ferry timetable")
    vector = [pid for pid, _ in engine.store.vector_search(vec, 10, window)]
    assert sorted(vector) == ["dec_ferry#0", "jan_ferry#0"]
    scores = [s for _, s in engine.store.vector_search(vec, 10, window)]
    assert scores == sorted(scores, reverse=True)
    engine.close()


def test_cli_ask_takes_the_date_the_question_is_asked(fresh, tmp_path):
    import json
    import subprocess
    import sys

    from conftest import ROOT

    archive(tmp_path / "corpus")
    engine = fresh()
    engine.ingest()
    engine.close()
    where = ["--backend", "extractive", "--index-dir", str(tmp_path / "index"), "--corpus-dir", str(tmp_path / "corpus")]
    for date, year in (("2023-06-20", "2023"), ("2024-06-20", "2024")):
        done = subprocess.run([sys.executable, "app.py", "ask", "--json", *where, "--date", date, "when did the museum reopen?"], cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["citations"][0]["article_id"] == f"y{year}_museum"
    bad = subprocess.run([sys.executable, "app.py", "ask", *where, "--date", "2023-13-01", "when did the museum reopen?"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "not a date like" in bad.stderr and "Traceback" not in bad.stderr
