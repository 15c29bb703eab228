"""Reading and cleaning articles: boilerplate goes, every article sentence stays, bad files are named."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from byline.cleaning import clean_text
from byline.corpus import CorpusError, ReadError, read_articles
from byline.nltk_data import sentence_spans
from conftest import CORPUS

# What the scrapes of the five seed articles carry besides the article, as it appears in them.
SEED_BOILERPLATE = {
    "000_1eb23cbdfc69e11d": ["Subscribe to RBC Twitter Get news faster than anyone else Истoчник", "jpg” alt=”Biden calls summit with Putin possible” />"],
    "001_3ec8a82e686718c8": ["Subscribe to FB RBC Get news faster than anyone", "Источник rbc.ru", "Leave a Reply", "Your email address will not be published. Required fields are marked *"],
    "002_aa04ac5f397be0f2": ["Be the first to comment", "Leave a Reply", "Your email address will not be published."],
    "003_a1f7540efced2643": ["24.5 C", "HomeUncategorizedThe Kremlin reveals what could be the basis for a meeting between...", "Polonia quiere armas nucleares y tropas de la OTAN pese a obligaciones contrarias del bloque", "latest articles", "explore more", "error: Content is protected !!"],
    "004_36c248dcc6a592ee": ["Source link", "High-quality journalistic work cannot be free, otherwise it becomes dependent on the authorities or the oligarchs.", "Our site is solely funded by advertising money.", "Please disable your ad blocker to continue reading the news.", "Best regards, editors"],
}


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@pytest.fixture(scope="module")
def seeds() -> dict:
    return {a.id: a for a in read_articles([CORPUS]) if not isinstance(a, ReadError)}


def test_bundled_corpus_has_the_five_seed_articles_with_metadata(seeds):
    assert sorted(seeds) == sorted(SEED_BOILERPLATE)
    assert seeds["000_1eb23cbdfc69e11d"].title == "Biden called the summit with Putin possible"
    assert seeds["001_3ec8a82e686718c8"].source == "rbc.ru"
    assert seeds["004_36c248dcc6a592ee"].source == "RIA News"
    assert all(a.url == "" and a.published == "" for a in seeds.values()), "no invented dates or URLs"


@pytest.mark.parametrize("article_id", sorted(SEED_BOILERPLATE))
def test_boilerplate_removed_and_every_sentence_kept(seeds, article_id):
    raw = (CORPUS / f"{article_id}.md").read_text(encoding="utf-8").split("\n---\n", 1)[1]
    cleaned = _norm(seeds[article_id].text)
    for junk in SEED_BOILERPLATE[article_id]:
        assert junk not in seeds[article_id].text, junk
    # Every sentence of the raw text, once the known boilerplate is cut out, survives cleaning.
    body = raw
    for junk in SEED_BOILERPLATE[article_id]:
        body = body.replace(junk, "\n")
    sentences = [_norm(body[a:b]) for a, b in sentence_spans(body)]
    sentences = [s for s in sentences if len(s.split()) >= 3]
    assert len(sentences) >= 8
    missing = [s for s in sentences if s not in cleaned]
    assert not missing, missing


def test_inline_fragments_are_cut_without_losing_neighbours():
    text = "He said it was possible. Subscribe to RBC Twitter Get news faster than anyone else Истoчник At the same time, he warned Russia."
    assert clean_text(text) == "He said it was possible. At the same time, he warned Russia."
    tag = 'NATO. jpg” alt=”Biden calls summit” /> The summit was held in Geneva.'
    assert clean_text(tag) == "NATO. The summit was held in Geneva."


def test_html_article_is_extracted_with_trafilatura(tmp_path):
    page = tmp_path / "story.html"
    page.write_text(
        "<html><head><title>Harbour reopens</title><meta property='og:url' content='https://example.org/harbour'></head><body>"
        "<nav>Home | World | Subscribe</nav><article><h1>Harbour reopens</h1>"
        "<p>The harbour of Port Elin reopened on Monday after three weeks of repairs to the main pier.</p>"
        "<p>The mayor, Ada Brenn, said that 40 fishing boats returned on the first day.</p></article>"
        "<footer>Leave a Reply</footer></body></html>",
        encoding="utf-8",
    )
    [article] = list(read_articles([page]))
    assert article.title == "Harbour reopens"
    assert "40 fishing boats" in article.text and "Port Elin" in article.text
    assert "Leave a Reply" not in article.text


def test_jsonl_dump_streams_articles_and_names_broken_lines(tmp_path):
    dump = tmp_path / "dump.jsonl"
    good = {"id": "a1", "url": "https://x.test/1", "title": "One", "published": "2022-06-16", "authors": ["A"], "source": "x.test", "text": "First story text here. It has two sentences."}
    dump.write_text(json.dumps(good) + "\n{not json\n" + json.dumps({"id": "a2", "text": ""}) + "\n" + json.dumps({**good, "id": "a3"}) + "\n", encoding="utf-8")
    items = list(read_articles([dump]))
    articles = [i for i in items if not isinstance(i, ReadError)]
    errors = [i for i in items if isinstance(i, ReadError)]
    assert [a.id for a in articles] == ["a1", "a3"]
    assert articles[0].published == "2022-06-16" and articles[0].url == "https://x.test/1"
    assert [(e.line, e.reason) for e in errors] == [(2, "not valid JSON (Expecting property name enclosed in double quotes)"), (3, 'expected an object with a non-empty "text"')]
    assert errors[0].where.endswith("dump.jsonl:2")


def test_control_characters_never_reach_the_store(tmp_path):
    dump = tmp_path / "dump.jsonl"
    text = "Talks were held in Vienna.\u0000 The\u0007 OSCE hosted them.\tTabs stay.\nSo do lines."
    dump.write_text(json.dumps({"id": "c1", "title": "Odd\u0000 title", "text": text}) + "\n", encoding="utf-8")
    [article] = list(read_articles([dump]))
    assert article.title == "Odd title"
    assert article.text == "Talks were held in Vienna. The OSCE hosted them. Tabs stay.\nSo do lines."


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("binary.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file, not text"),
        ("latin1.txt", "Caf\xe9 au lait was served at the summit.".encode("latin-1"), "not UTF-8 text (byte 0xe9 at position 3); save it as UTF-8"),
        ("empty.md", b"   \n", "empty file"),
        ("broken.md", b"---\ntitle: [unclosed\n---\nBody text.", "broken front matter"),
        ("notes.pdf", b"%PDF-1.4", "unsupported file type .pdf; use .md, .txt, .html or .jsonl"),
    ],
)
def test_bad_files_give_one_clear_reason(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    [item] = list(read_articles([path]))
    assert isinstance(item, ReadError)
    assert item.reason.startswith(reason), item.reason


def test_missing_corpus_folder_is_an_error(tmp_path):
    with pytest.raises(CorpusError, match="no such file or folder"):
        list(read_articles([tmp_path / "nowhere"]))


def test_text_without_front_matter_takes_title_from_first_line(tmp_path):
    path = tmp_path / "plain.txt"
    path.write_text("Storm closes schools\n\nAll schools in Varn closed on Friday because of the storm.", encoding="utf-8")
    [article] = list(read_articles([path]))
    assert (article.id, article.title) == ("plain", "Storm closes schools")
    assert article.text.startswith("All schools in Varn")
    assert Path(article.path).is_absolute()
