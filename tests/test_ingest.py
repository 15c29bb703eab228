"""Ingest into a real Chroma store: incremental, safe with bad input, complete after a kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from byline.chunking import split_article
from byline.corpus import ReadError, read_articles
from conftest import ROOT, copy_corpus

ARTICLE = """---
id: {id}
title: "{title}"
source: Test Wire
published: 2024-03-0{day}
---
{body}
"""


def write_article(folder: Path, aid: str, title: str, body: str, day: int = 1) -> Path:
    path = folder / f"{aid}.md"
    path.write_text(ARTICLE.format(id=aid, title=title, body=body, day=day), encoding="utf-8")
    return path


def statuses(report) -> dict[str, str]:
    return {i.article_id: i.status for i in report.items if i.article_id}


def chroma_passage_ids(engine) -> list[str]:
    """Every passage, rebuilt from the articles stored in Chroma (text and spans)."""
    return [p.id for a in engine.articles() for p in engine.store.article_passages(a.id)]


def vector_ids(engine) -> list[str]:
    return engine.store.passages.get(include=[])["ids"]


def test_incremental_reingest_skips_replaces_and_removes(fresh, tmp_path):
    corpus = copy_corpus(tmp_path / "corpus")
    engine = fresh()
    first = engine.ingest()
    assert first.count("added") == 5 and first.passages_added > 0
    n_passages = len(chroma_passage_ids(engine))
    assert n_passages == first.passages_added
    # Only each article's lead passage gets a vector (vector_passages = 1); BM25 has them all.
    assert sorted(vector_ids(engine)) == sorted(f"{a.id}#0" for a in engine.articles()) and first.passages_embedded == 5
    assert sum(len(period.bm25.ids) for period in engine.store.warm()) == n_passages

    again = engine.ingest()
    assert set(statuses(again).values()) == {"skipped"} and again.passages_added == 0
    assert len(chroma_passage_ids(engine)) == n_passages

    # Change one article, delete another, add a new one.
    changed = corpus / "002_aa04ac5f397be0f2.md"
    changed.write_text(changed.read_text(encoding="utf-8").replace("daily press briefing on Tuesday", "daily press briefing on Wednesday"), encoding="utf-8")
    (corpus / "003_a1f7540efced2643.md").unlink()
    write_article(corpus, "new_harbour", "Harbour reopens", "The harbour of Port Elin reopened on Monday. The mayor said 40 boats returned.")
    third = engine.ingest()
    st = statuses(third)
    assert st["002_aa04ac5f397be0f2"] == "updated"
    assert st["003_a1f7540efced2643"] == "removed"
    assert st["new_harbour"] == "added"
    assert [st[a] for a in ("000_1eb23cbdfc69e11d", "001_3ec8a82e686718c8", "004_36c248dcc6a592ee")] == ["skipped"] * 3

    ids = chroma_passage_ids(engine)
    assert not any(i.startswith("003_a1f7540efced2643#") for i in ids + vector_ids(engine))
    assert any(i.startswith("new_harbour#") for i in ids)
    assert len(ids) == len(set(ids)) == sum(a.passages for a in engine.articles())
    updated = engine.store.article_passages("002_aa04ac5f397be0f2")
    assert any("Wednesday" in p.text for p in updated) and not any("on Tuesday, while" in p.text and "briefing on Tuesday" in p.text for p in updated)
    # The answer path sees the change at once (BM25 is rebuilt for the new content).
    hits = engine.store.keyword_search("Port Elin harbour boats", 3)
    assert hits and hits[0][0].startswith("new_harbour#")


def test_bad_files_are_reported_and_good_ones_ingested_without_touching_the_index(fresh, tmp_path):
    corpus = tmp_path / "corpus"
    write_article(corpus, "keep_me", "Bridge opens", "The new bridge over the Varn river opened on Sunday. It is 400 metres long.")
    engine = fresh()
    assert engine.ingest().count("added") == 1
    before = sorted(chroma_passage_ids(engine))

    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "binary.md").write_bytes(b"\x00\x01\x02 binary junk")
    (drop / "latin1.txt").write_bytes("Caf\xe9 crème".encode("latin-1"))
    (drop / "empty.md").write_text("")
    (drop / "broken.md").write_text("---\ntitle: [oops\n---\nText.")
    (drop / "dump.jsonl").write_text('{"id": "j1", "title": "Rain record", "text": "Varn had 300 mm of rain in May, a record."}\n{broken\n')
    write_article(drop, "good_one", "Library expands", "The Varn library added a new wing with 20,000 books on Tuesday.")
    report = engine.ingest([drop], prune=True)
    errors = {Path(i.path.split(":")[0]).name: i.reason for i in report.items if i.status == "error"}
    assert set(errors) == {"binary.md", "latin1.txt", "empty.md", "broken.md", "dump.jsonl"}
    assert statuses(report)["good_one"] == "added" and statuses(report)["j1"] == "added"
    # The article indexed before is untouched: ingesting another folder never prunes it.
    assert set(before) <= set(chroma_passage_ids(engine))
    assert {a.id for a in engine.articles()} == {"keep_me", "good_one", "j1"}


def test_a_file_that_turns_unreadable_keeps_its_indexed_article(fresh, tmp_path):
    corpus = tmp_path / "corpus"
    path = write_article(corpus, "fragile", "Dam inspected", "Engineers inspected the Varn dam on Monday and found no cracks.")
    engine = fresh()
    engine.ingest()
    path.write_bytes(b"\x00\x00 corrupted by a bad copy")
    report = engine.ingest()
    assert [i.status for i in report.items] == ["error"]
    assert [a.id for a in engine.articles()] == ["fragile"]


def test_index_built_with_another_embedder_is_refused_with_the_rebuild_command(fresh, tmp_path):
    copy_corpus(tmp_path / "corpus")
    fresh().ingest()
    other = fresh(embedder="minilm")
    try:
        other.store
    except Exception as exc:  # IndexError_
        message = str(exc)
    else:
        raise AssertionError("a mismatched embedder must be refused")
    assert "bge-small" in message and "minilm" in message and "ingest --rebuild" in message


def _synthetic_corpus(folder: Path, n: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    towns = ["Varn", "Elin", "Osk", "Bravik", "Tarn", "Lume", "Hest", "Corr"]
    for i in range(n):
        town = towns[i % len(towns)]
        body = " ".join(
            f"Council meeting {i}-{k} in {town} approved plan number {i * 7 + k} for the {k}th district, with {k + 3} votes in favour."
            for k in range(12)
        )
        write_article(folder, f"syn_{i:04d}", f"{town} council report {i}", body, day=1 + i % 9)


def test_ingest_killed_midway_is_completed_by_the_next_run(tmp_path):
    corpus = tmp_path / "corpus"
    _synthetic_corpus(corpus, 60)
    env = {**os.environ, "BYLINE_INDEX_DIR": str(tmp_path / "index"), "BYLINE_CORPUS_DIR": str(corpus), "BYLINE_INGEST_BATCH_PASSAGES": "32", "BYLINE_VECTOR_PASSAGES": "0"}
    proc = subprocess.Popen([sys.executable, "app.py", "ingest"], cwd=ROOT, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    # Kill -9 right after the first batch is committed, while later batches are still pending.
    for line in proc.stderr:
        if "articles stored" in line:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the ingest finished before it could be killed"

    done = subprocess.run([sys.executable, "app.py", "ingest"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr

    from byline import Engine
    from byline.config import load_settings

    engine = Engine(load_settings({"index_dir": tmp_path / "index", "corpus_dir": corpus, "backend": "extractive", "ingest_batch_passages": 32, "vector_passages": 0}))
    articles = {a.id: a for a in engine.articles()}
    assert len(articles) == 60
    ids = chroma_passage_ids(engine)
    assert len(ids) == len(set(ids)), "no passage stored twice"
    expected = {
        a.id: len(split_article(a, engine.settings.chunk_tokens, engine.settings.chunk_overlap_sentences, engine.embedding.count_tokens))
        for a in read_articles([corpus])
        if not isinstance(a, ReadError)
    }
    by_article: dict[str, int] = {}
    for pid in ids:
        by_article[pid.rsplit("#", 1)[0]] = by_article.get(pid.rsplit("#", 1)[0], 0) + 1
    assert by_article == expected
    assert sorted(vector_ids(engine)) == sorted(ids), "every passage has its vector (vector_passages = 0), none orphaned"
    assert {aid: a.passages for aid, a in articles.items()} == expected
    # And a third run has nothing left to do.
    again = engine.ingest([corpus])
    assert again.count("skipped") == 60 and again.passages_added == 0


def test_index_in_an_older_layout_asks_for_a_rebuild(fresh, tmp_path):
    import chromadb

    # What Byline's first layout left behind: a passages collection without a format mark.
    client = chromadb.PersistentClient(path=str(tmp_path / "index" / "chroma"), settings=chromadb.Settings(anonymized_telemetry=False))
    client.create_collection("byline-passages", embedding_function=None, metadata={"hnsw:space": "cosine", "embedder": "bge-small", "dim": 384})
    del client
    try:
        fresh().store
    except Exception as exc:  # IndexError_
        message = str(exc)
    else:
        raise AssertionError("an index in an older layout must not be read")
    assert "older Byline" in message and "ingest --rebuild" in message


def test_new_process_reads_content_version_and_dates_without_the_manifest(fresh, tmp_path):
    """Issue #16: start-up read the whole manifest for the content version; now a token kept in the
    articles collection says it, and the publication days come with the BM25 cache."""
    corpus = copy_corpus(tmp_path / "corpus")
    write_article(corpus, "ferry_strike", "Ferry strike ends", "The ferry strike at Port Elin ended on Tuesday after nine days.", day=2)
    engine = fresh()
    engine.ingest()
    version = engine.store.version()
    days = dict(engine.store.published_days())
    assert days == {aid: e.published_day for aid, e in engine.store.manifest().items() if e.published_day is not None} and days
    engine.close()

    second = fresh()  # a new process on the same index
    calls = []
    real_manifest = second.store.manifest
    second.store.manifest = lambda: calls.append(1) or real_manifest()
    assert second.store.version() == version
    assert second.store.published_days() == days
    assert second.ask("When did Putin and Biden have their last phone call of 2021?").citations
    assert calls == []

    # Any change gives a new version, seen by the BM25 index at once; the old one is not reused.
    write_article(corpus, "new_harbour", "Harbour reopens", "The harbour of Port Elin reopened on Monday. The mayor said 40 boats returned.", day=5)
    second.store.manifest = real_manifest
    second.ingest()
    changed = second.store.version()
    assert changed != version and second.store.published_days()["new_harbour"] > 0
    assert second.store.keyword_search("Port Elin harbour boats", 1)[0][0].startswith("new_harbour#")
    second.delete_article("new_harbour")
    assert second.store.version() not in (changed, version) and "new_harbour" not in second.store.published_days()


def test_a_store_that_refuses_the_content_token_falls_back_to_hashing_the_manifest(fresh, tmp_path):
    """A server that will not take the token's write (faked: it cannot be caused with a local
    store) must not leave the old token standing for new content."""
    corpus = copy_corpus(tmp_path / "corpus")
    engine = fresh()
    engine.ingest()
    before = engine.store.version()

    def refuse(**_):
        raise PermissionError("read-only collection metadata")

    engine.store.articles_col.modify = refuse
    write_article(corpus, "new_harbour", "Harbour reopens", "The harbour of Port Elin reopened on Monday. The mayor said 40 boats returned.")
    engine.ingest()
    after = engine.store.version()
    assert after != before
    assert engine.store.keyword_search("Port Elin harbour boats", 1)[0][0].startswith("new_harbour#")


def test_window_search_is_exact_and_follows_the_content(fresh, tmp_path):
    """A search inside a publication window reads the day-sorted vectors kept with the BM25 cache:
    it returns what Chroma's own filtered search returns, sees an article added since, and a new
    process loads the vectors from the cache instead of reading them from Chroma."""
    from byline.dates import published_day

    corpus = tmp_path / "corpus"
    topics = ["harbour", "railway", "library", "stadium", "airport", "museum", "bridge", "market", "school"]
    for day in range(1, 10):
        for k, topic in enumerate(topics):
            write_article(corpus, f"d{day}_{topic}", f"The {topic} of town {k}", f"The {topic} of town {k} reopened after repairs on day {day}. Crowds visited the {topic}.", day=day)
    engine = fresh()
    engine.ingest()
    vec = engine.embedding.embed_query("Which museum reopened?")
    window = (published_day("2024-03-03"), published_day("2024-03-05"))
    found = engine.store.vector_search(vec, 10, window)
    where = {"$and": [{"published_day": {"$gte": window[0]}}, {"published_day": {"$lte": window[1]}}]}
    chroma = engine.store.passages.query(query_embeddings=[vec], n_results=10, where=where, include=["distances"])
    assert [pid for pid, _ in found] == chroma["ids"][0]
    assert [round(s, 4) for _, s in found] == [round(1.0 - d, 4) for d in chroma["distances"][0]]
    assert found[0][0].split("_")[1].startswith("museum") and all(3 <= int(pid[1]) <= 5 for pid, _ in found)
    cached = list((tmp_path / "index" / "bm25").rglob("vectors/vectors.npy"))
    assert len(cached) == 1

    write_article(corpus, "d4_aquarium", "The aquarium of town 40", "The aquarium museum of town 40 reopened on day 4. Crowds visited the aquarium museum.", day=4)
    engine.ingest()
    assert "d4_aquarium#0" in [pid for pid, _ in engine.store.vector_search(vec, 27, window)]
    engine.close()

    again = fresh()  # a new process's store: the vectors come from the cache file, not from Chroma
    calls = []
    original = again.store.passages.get
    again.store.passages.get = lambda *a, **kw: calls.append(kw) or original(*a, **kw)
    assert "d4_aquarium#0" in [pid for pid, _ in again.store.vector_search(vec, 27, window)]
    assert not [kw for kw in calls if "embeddings" in kw.get("include", [])]
    again.close()


def test_an_unchanged_file_is_skipped_without_being_read_again(fresh, tmp_path, monkeypatch):
    """Issue #16: an unchanged re-ingest spent most of its time cleaning articles it then skipped.
    A file read in full is recorded; it is skipped unread while its bytes are the same and the index
    still holds what it gave, and read again otherwise."""
    import json

    import byline.ingest as ingest_module

    corpus = tmp_path / "corpus"
    records = [{"id": f"wire{k}", "title": f"Harbour note {k}", "published": "2024-03-02", "text": f"The harbour of Port Elin counted {k + 10} boats on Monday."} for k in range(3)]
    feed = corpus / "feed.jsonl"
    feed.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    engine = fresh()
    assert engine.ingest().count("added") == 3

    opened: list[str] = []
    real_read = ingest_module.read_file
    monkeypatch.setattr(ingest_module, "read_file", lambda path: opened.append(path.name) or real_read(path))
    again = engine.ingest()
    assert again.count("skipped") == 3 and again.count("removed") == 0 and opened == []

    # An article deleted from the index since: the file is read again and gives it back.
    engine.delete_article("wire1")
    back = engine.ingest()
    assert statuses(back)["wire1"] == "added" and opened == ["feed.jsonl"]
    assert engine.ingest().count("skipped") == 3 and opened == ["feed.jsonl"]

    # Changed bytes: read again, the changed article replaced, the others skipped.
    records[2]["text"] = "The harbour of Port Elin counted 99 boats on Tuesday."
    feed.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    changed = engine.ingest()
    assert statuses(changed) == {"wire0": "skipped", "wire1": "skipped", "wire2": "updated"} and opened[-1] == "feed.jsonl"
    assert engine.store.keyword_search("99 boats Tuesday", 1)[0][0].startswith("wire2#")

    # A file with a broken line is never vouched for: its error is reported on every run.
    feed.write_text(feed.read_text(encoding="utf-8") + "{not json\n", encoding="utf-8")
    for _ in range(2):
        report = engine.ingest()
        assert report.count("error") == 1 and report.count("skipped") == 3
    assert opened[-2:] == ["feed.jsonl", "feed.jsonl"]
