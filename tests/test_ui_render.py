"""The web chat's rendering helpers and upload checks, without a browser or a server."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser

import pytest

from byline.types import Answer, ArticleInfo, Citation, IngestItem, IngestReport
from byline.ui import (
    Exchange,
    close_app,
    check_upload,
    one_sentence,
    question_overrides,
    render_answer_text,
    render_articles,
    render_conversation,
    render_exchange,
    render_passage,
    render_result_lines,
    render_source,
    report_lines,
    ResultLine,
    safe_url,
    sanitize_filename,
)

SCRIPT = "<script>window.__xss=1</script>"
IMG = '<img src=x onerror="window.__xss=2">'
EVIL = f"{SCRIPT} & {IMG} \"quoted\" 'single' ${{window.__xss=5}} {{{{x}}}}"


class _Tags(HTMLParser):
    """Every start tag and attribute in a fragment, as a browser's tokenizer would see them."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def tags(fragment: str) -> list[tuple[str, dict]]:
    parser = _Tags()
    parser.feed(fragment)
    return parser.tags


def assert_inert(fragment: str) -> None:
    for tag, attrs in tags(fragment):
        assert tag not in ("script", "img", "iframe", "object", "embed", "style", "svg"), fragment
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            if name in ("href", "src"):
                assert value and re.match(r"https?://", value), (tag, name, value)


def text_of(fragment: str) -> str:
    import html

    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def cite(n=1, **kw) -> Citation:
    base = dict(
        n=n,
        article_id=f"a{n}",
        title=f"Title {n}",
        url="https://example.org/a",
        published="2021-06-16",
        source="RBC",
        passage="First sentence. The summit was held in June 2021. Last one.",
        score=1.0,
        highlight_start=16,
        highlight_end=49,
    )
    base.update(kw)
    return Citation(**base)


# --- answer text and chips ---------------------------------------------------------------------
def test_markers_become_chips_pointing_at_their_source():
    out = render_answer_text("Held in June 2021. [1]", [cite(1)], 3)
    assert '<button type="button" class="byline-chip" data-target="byline-src-3-1"' in out
    assert text_of(out) == "Held in June 2021. 1"


def test_grouped_and_unknown_markers():
    out = render_answer_text("A [1, 2] B [7]", [cite(1), cite(2)], 0)
    assert out.count('class="byline-chip"') == 2
    assert 'data-target="byline-src-0-2"' in out
    assert '<span class="byline-chip byline-chip-unknown">7</span>' in out  # no source: no link


def test_answer_text_is_escaped():
    out = render_answer_text(f"{EVIL} [1]", [cite(1, title=EVIL)], 0)
    assert_inert(out)
    assert SCRIPT not in out and IMG not in out
    assert text_of(out).startswith(EVIL)


# --- sources -----------------------------------------------------------------------------------
def test_passage_highlights_the_supporting_sentence():
    out = render_passage(cite(1))
    assert '<mark class="byline-support">The summit was held in June 2021.</mark>' in out


@pytest.mark.parametrize("start,end", [(0, 0), (5, 2), (-1, 4), (0, 10_000)])
def test_bad_highlight_offsets_show_the_plain_passage(start, end):
    out = render_passage(cite(1, highlight_start=start, highlight_end=end))
    assert "<mark" not in out and text_of(out) == cite(1).passage


def test_passage_and_highlight_are_escaped():
    passage = f"Before {SCRIPT}. Middle {IMG} here. After &lt;b&gt;."
    c = cite(1, passage=passage, highlight_start=passage.index("Middle"), highlight_end=passage.index(" After"))
    out = render_passage(c)
    assert_inert(out)
    assert text_of(out) == passage  # literal, entities included
    assert "<mark" in out


def test_source_card_shows_title_source_date_link_and_anchor():
    out = render_source(cite(2, title="Geneva talks"), 4)
    assert 'id="byline-src-4-2"' in out
    assert 'href="https://example.org/a"' in out and 'rel="noopener noreferrer nofollow"' in out
    assert "Geneva talks" in out and "RBC" in out and "2021-06-16" in out and "example.org" in out


@pytest.mark.parametrize(
    "url",
    ["javascript:window.__xss=1", " JavaScript:alert(1)", "data:text/html,<script>1</script>", "vbscript:x", "//evil.example/x", "https://a b", "http://"],
)
def test_only_http_links(url):
    assert safe_url(url) is None
    out = render_source(cite(1, url=url), 0)
    assert "href" not in out
    assert_inert(out)


def test_source_card_escapes_everything():
    c = cite(1, title=EVIL, source=EVIL, published=EVIL, article_id='x" onmouseover="window.__xss=1', url='https://e.org/"><img/src=x/onerror=alert(1)>')
    out = render_source(c, 0)
    assert_inert(out)
    assert 'href="https://e.org/&quot;&gt;&lt;img/src=x/onerror=alert(1)&gt;"' in out
    assert 'data-article-id="x&quot; onmouseover=&quot;window.__xss=1"' in out


# --- exchanges and the conversation ------------------------------------------------------------
def answer(**kw) -> Answer:
    base = dict(question="When was the Geneva summit?", answer="It was in June 2021. [1]", refused=False, citations=[cite(1)], mode="generated")
    base.update(kw)
    return Answer(**base)


def test_streaming_then_done():
    ex = Exchange("When was the Geneva summit?")
    assert 'data-state="pending"' in render_exchange(ex, 0)
    ex.text = "It was in"
    out = render_exchange(ex, 0)
    assert 'data-state="streaming"' in out and "byline-sources" not in out
    ex.apply(answer())
    out = render_exchange(ex, 0)
    assert 'data-state="done"' in out and "byline-sources" in out and 'id="byline-src-0-1"' in out


def test_done_replaces_streamed_tokens_and_shows_notice():
    ex = Exchange("q?")
    ex.text = "half an ans"
    ex.apply(answer(answer="“Quoted sentence.” [1]", mode="fallback", notice="Cannot reach the model. Showing the best supporting sentence instead."))
    out = render_exchange(ex, 0)
    assert "half an ans" not in out
    assert 'class="byline-notice"' in out and "Cannot reach the model." in out


def test_refusal_looks_different():
    ex = Exchange("Recipe for bread?")
    ex.apply(answer(answer="The articles don't cover this question.", refused=True, citations=[], mode="refused"))
    out = render_exchange(ex, 0)
    assert 'data-state="refused"' in out and "byline-refused" in out and "Not covered" in out
    assert "byline-chip" not in out
    assert "byline-refused-why" not in out  # no reason given, no empty line
    ex = Exchange("What did Xi say?")
    ex.apply(answer(answer="The articles don't cover this question.", refused=True, citations=[], mode="refused", notice="No passage mentions <Xi>."))
    assert '<div class="byline-refused-why">No passage mentions &lt;Xi&gt;.</div>' in render_exchange(ex, 0)


def test_a_streaming_token_only_extends_the_page():
    """Each token's HTML extends the previous one (Gradio then sends only the new text), whatever
    came before; markers and escaping stay safe, and Done renders the closed, chipped answer."""
    earlier = [Exchange(f"q{i}?") for i in range(3)]
    for ex in earlier:
        ex.apply(answer())
    live = Exchange("<b>how long</b>?")
    convo = [*earlier, live]
    prev = render_conversation(convo, streaming=True)
    for token in ("It ", "lasted <i>", "50 minutes", " [1", "]."):
        live.text += token
        new = render_conversation(convo, streaming=True)
        assert new.startswith(prev), token
        prev = new
    assert "&lt;i&gt;" in prev and "<i>" not in prev and "&lt;b&gt;how long" in prev
    assert_inert(prev)
    live.apply(answer(answer="It lasted 50 minutes [1]."))
    done = render_conversation(convo, streaming=True)
    assert done.endswith("</div>") and 'id="byline-ex-3" data-state="done"' in done and "byline-chip" in done


def test_each_tier_is_rendered_its_own_way():
    from byline.compose import CLOSEST_LINE
    from byline.verify import CheckedSentence

    # answer: the short answer in bold ahead of the quote
    ex = Exchange("when was the geneva summit")
    ex.apply(answer(answer="June 2021 — “The summit was held in Geneva in June 2021.” [1]", tier="answer", short_answer="June 2021"))
    out = render_exchange(ex, 0)
    assert '<strong class="byline-short">June 2021</strong>' in out and 'data-tier="answer"' in out and "byline-chip" in out
    # closest: one line saying so, each sentence on its own line with its chip; not styled as a refusal
    ex = Exchange("how many people live in geneva")
    ex.apply(answer(answer=f"{CLOSEST_LINE}\n- “Talks were held in Geneva.” [1]\n- “Geneva hosted the summit.” [1]", tier="closest"))
    out = render_exchange(ex, 0)
    assert 'data-tier="closest"' in out and "Closest passages" in out and out.count("<li>") == 2
    assert "byline-refused" not in out and 'data-state="done"' in out
    # a generated sentence no passage supports is marked, never shown as cited fact
    ex = Exchange("when was the summit")
    sentences = [CheckedSentence("It was in June 2021.", [1], True), CheckedSentence("It lasted <b>9</b> days.", [], False, "the passage does not say 9 here")]
    ex.apply(answer(answer="It was in June 2021. [1] It lasted 9 days.", mode="generated", tier="answer", sentences=sentences))
    out = render_exchange(ex, 0)
    assert out.count('class="byline-unsupported"') == 1 and "unsupported</span>" in out and "the passage does not say 9 here" in out
    assert "&lt;b&gt;9&lt;/b&gt;" in out and "<b>" not in out
    assert_inert(out)
    # a model answer that failed its check shows as the quote with a quiet label, no banner
    ex = Exchange("when was the summit")
    ex.apply(answer(answer="“The summit was held in June 2021.” [1]", mode="fallback", notice=""))
    out = render_exchange(ex, 0)
    assert "byline-quoted-label" in out and "byline-notice" not in out


def test_error_is_one_sentence():
    ex = Exchange("q")
    ex.error = "Please type a question."
    out = render_exchange(ex, 0)
    assert 'data-state="error"' in out and 'role="alert"' in out and "Please type a question." in out
    assert ex.turn() is None


def test_rewritten_question_in_small_print():
    ex = Exchange("Who met there?")
    ex.apply(answer(question="Who met there?", standalone_question="Who met at the Geneva summit?"))
    out = render_exchange(ex, 1)
    assert '<div class="byline-standalone">Searched for: Who met at the Geneva summit?</div>' in out
    assert ex.turn().standalone_question == "Who met at the Geneva summit?"
    same = Exchange("q?")
    same.apply(answer(question="q?", standalone_question="q?"))
    assert "byline-standalone" not in render_exchange(same, 0)


def test_question_and_standalone_are_escaped():
    ex = Exchange(EVIL)
    ex.apply(answer(question=EVIL, standalone_question=EVIL + " (about: x)"))
    out = render_conversation([ex])
    assert_inert(out)
    assert SCRIPT not in out and IMG not in out


def test_empty_conversation_placeholder():
    assert "byline-empty" in render_conversation([])


# --- articles and upload results ---------------------------------------------------------------
def test_articles_table_with_delete_buttons():
    out = render_articles([ArticleInfo("a1", "Geneva", "RBC", "https://e.org", "2021-06-16", 5, "/x/a1.md")])
    assert "1 article indexed" in out
    assert 'data-article-id="a1"' in out and "Geneva" in out and "RBC" in out and "2021-06-16" in out and ">5<" in out
    assert 'class="byline-delete"' in out
    assert "No articles" in render_articles([])


def test_articles_table_escapes():
    out = render_articles([ArticleInfo('x"><img src=x onerror=alert(1)>', EVIL, EVIL, "javascript:alert(1)", EVIL, 2, "")])
    assert_inert(out)
    assert SCRIPT not in out and IMG not in out


def test_report_lines_name_uploads_as_the_user_did_and_hide_server_paths(tmp_path):
    f = tmp_path / "uploads" / "safe_name.md"
    report = IngestReport(
        items=[
            IngestItem(str(f), "a", "added", "", "Title A"),
            IngestItem(str(f), "b", "skipped", "unchanged", "Title B"),
            IngestItem(str(tmp_path / "uploads" / "dump.jsonl") + ":3", "", "error", "not valid JSON (Expecting value)"),
            IngestItem(str(f), "c", "removed", "no longer in the corpus", "Title C"),
        ]
    )
    names = {str(f.resolve()): "My <Article>.md", str((tmp_path / "uploads" / "dump.jsonl").resolve()): "dump.jsonl"}
    lines = report_lines(report, names)
    assert [line.status for line in lines] == ["added", "skipped", "error", "removed"]
    assert lines[0].text == "“Title A” from My <Article>.md"
    assert lines[2].text == "dump.jsonl line 3: not valid JSON (Expecting value)"
    assert all(str(tmp_path) not in line.text for line in lines)
    out = render_result_lines(lines, "Added 1.")
    assert_inert(out)
    assert "My &lt;Article&gt;.md" in out and "byline-status-error" in out


def test_result_lines_escape():
    out = render_result_lines([ResultLine("error", EVIL)])
    assert_inert(out)


# --- uploads -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name,expected",
    [
        ("article.md", "article.md"),
        ("../../etc/passwd.md", "passwd.md"),
        ("..\\..\\win.TXT", "win.txt"),
        ('<img src=x onerror="a">.md', "img_src_x_onerror_a.md"),
        ("Ünïcödé news 2021.html", "n_c_d_news_2021.html"),
        (".hidden.jsonl", "hidden.jsonl"),
        ("...", "upload"),
        ("", "upload"),
        ("noext", "noext"),
    ],
)
def test_sanitize_filename(name, expected):
    out = sanitize_filename(name)
    assert out == expected
    assert re.fullmatch(r"[A-Za-z0-9._-]+", out) and not out.startswith(".")


def test_check_upload_type_and_size():
    assert check_upload("a.md", 10, 20) is None
    assert check_upload("a.JSONL", 10, 20) is None
    assert "only .md, .txt, .html and .jsonl" in check_upload("report.pdf", 10, 20)
    assert "without an extension" in check_upload("README", 10, 20)
    msg = check_upload("big.md", 21 * 1024 * 1024, 20)
    assert msg == "big.md is 21.0 MB; the limit is 20 MB."
    assert "empty" in check_upload("a.txt", 0, 20)


# --- settings and errors -----------------------------------------------------------------------
def test_question_overrides():
    from pydantic import SecretStr

    from byline.engine import QuestionError

    assert question_overrides("local", "http://ignored", "m", "k", 4) == {"backend": "local", "top_k": 4}
    over = question_overrides("openai-compatible", " http://127.0.0.1:11434/v1 ", "llama3.2", "sk-x", 3.0)
    assert over["base_url"] == "http://127.0.0.1:11434/v1" and over["model"] == "llama3.2" and over["top_k"] == 3
    assert isinstance(over["api_key"], SecretStr) and over["api_key"].get_secret_value() == "sk-x"
    assert "base_url" not in question_overrides("openai", "", "", "", 3)
    assert question_overrides("extractive", "", "", "", 99)["top_k"] == 10
    with pytest.raises(QuestionError, match="needs a base URL"):
        question_overrides("openai-compatible", "", "", "", 3)
    with pytest.raises(QuestionError, match="http:// or https://"):
        question_overrides("openai-compatible", "file:///etc/passwd", "", "", 3)
    with pytest.raises(QuestionError, match="Unknown backend"):
        question_overrides("gpt-99", "", "", "", 3)


def test_one_sentence():
    from byline.llm import GeneratorError

    assert one_sentence(GeneratorError("The local model server failed to start.\nmore")) == "The local model server failed to start."
    generic = one_sentence(KeyError("secret internals"))
    assert "secret internals" not in generic and "server log" in generic


# --- handlers, with a stand-in engine (no models) ----------------------------------------------
class FakeEngine:
    """Replays scripted events from stream(); records what it was asked."""

    def __init__(self, settings, script):
        self.settings = settings
        self.script = script
        self.calls = []

    def stream(self, question, history=None, question_date=None, **overrides):
        from byline.engine import QuestionError

        self.calls.append((question, history, question_date, overrides))
        if not question.strip():
            raise QuestionError("Please type a question.")
        for event in self.script(question):
            if isinstance(event, Exception):
                raise event
            yield event


@pytest.fixture
def settings(tmp_path):
    from conftest import make_settings

    return make_settings(tmp_path)


def run_ask(handlers, question, exchanges=None, backend="extractive", base_url="", model="", key="", top_k=3):
    return list(handlers.ask(question, exchanges or [], backend, base_url, model, key, top_k))


def test_ask_streams_tokens_then_renders_done(settings):
    from byline.types import Done, SourcesFound, StandaloneQuestion, Token
    from byline.ui import _Handlers

    final = answer(question="Who met there?", standalone_question="Who met at the Geneva summit?")

    def script(q):
        yield StandaloneQuestion("Who met at the Geneva summit?")
        yield Token("It was ")
        yield Token("in June 2021. [1]")
        yield SourcesFound(final.citations)
        yield Done(final)

    engine = FakeEngine(settings, script)
    h = _Handlers(engine)
    first = Exchange("When was the Geneva summit?")
    first.apply(answer())
    updates = run_ask(h, "Who met there?", [first], top_k=2)
    htmls = [u[0] for u in updates]
    assert htmls[0].endswith('<div class="byline-answer-text">') and 'data-state="streaming"' in htmls[0]  # the question shows at once, its answer still empty
    assert any('data-state="streaming"' in x and "It was" in x for x in htmls)
    assert 'data-state="done"' in htmls[-1] and "Searched for: Who met at the Geneva summit?" in htmls[-1]
    assert all(u[2] == "" for u in updates)  # the box is cleared
    question, history, date, overrides = engine.calls[0]
    assert [t.question for t in history] == ["When was the Geneva summit?"]
    # No "this week" in the question: no date, so older articles are searched too.
    assert date is None and overrides == {"backend": "extractive", "top_k": 2}
    exchanges = updates[-1][1]
    assert len(exchanges) == 2 and exchanges[-1].turn().standalone_question == "Who met at the Geneva summit?"
    run_ask(h, "What did the Kremlin say this week?", [], top_k=2)
    assert engine.calls[1][2] == dt.date.today().isoformat()  # read against today


def test_ask_turns_every_failure_into_one_sentence(settings):
    from byline.llm import GeneratorError
    from byline.types import Token
    from byline.ui import _Handlers

    def boom(q):
        yield Token("partial")
        yield RuntimeError("Traceback (most recent call last): secret")

    out = run_ask(_Handlers(FakeEngine(settings, boom)), "When?")[-1][0]
    assert 'data-state="error"' in out and "Something went wrong while answering" in out
    assert "Traceback" not in out and "secret" not in out

    def down(q):
        yield GeneratorError("Cannot reach the language model at http://x/v1 (connection failed).")

    out = run_ask(_Handlers(FakeEngine(settings, down)), "When?")[-1][0]
    assert "Cannot reach the language model at http://x/v1 (connection failed)." in out

    out = run_ask(_Handlers(FakeEngine(settings, down)), "   ")[-1][0]
    assert "Please type a question." in out

    out = run_ask(_Handlers(FakeEngine(settings, down)), "When?", backend="openai-compatible")[-1][0]
    assert "needs a base URL" in out

    def cut(q):
        yield Token("half")

    out = run_ask(_Handlers(FakeEngine(settings, cut)), "When?")[-1][0]
    assert "stopped before it was complete" in out


def test_failed_exchanges_are_left_out_of_the_history(settings):
    from byline.ui import _Handlers

    engine = FakeEngine(settings, lambda q: iter([RuntimeError("x")]))
    h = _Handlers(engine)
    exchanges = run_ask(h, "First?")[-1][1]
    run_ask(h, "Second?", exchanges)
    assert engine.calls[1][1] == []


# --- the upload handler on a real (extractive) engine ------------------------------------------
def test_add_articles_saves_ingests_replaces_and_refuses(fresh, tmp_path):
    from byline.ui import _Handlers

    engine = fresh()
    h = _Handlers(engine)
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    good = incoming / "My Article (1).md"
    good.write_text("---\ntitle: Harbour news\n---\nThe harbour opened a new pier in 2020. It is 300 metres long.\n", encoding="utf-8")
    pdf = incoming / "scan.pdf"
    pdf.write_bytes(b"%PDF")
    broken = incoming / "dump.jsonl"
    broken.write_text("{not json}\n", encoding="utf-8")

    ticks = []
    result, table, cleared = h.add_articles([str(good), str(pdf), str(broken)], progress=lambda *a, **k: ticks.append((a, k)))
    uploads = engine.settings.corpus_dir / "uploads"
    assert cleared is None
    assert sorted(p.name for p in uploads.iterdir()) == ["My_Article_1.md"]  # the unreadable dump is not kept
    assert "Harbour news" in result and "from My Article (1).md" in result
    assert "scan.pdf is a .pdf file" in result
    assert "dump.jsonl line 1: not valid JSON" in result
    assert str(tmp_path) not in result  # no server paths
    assert "Harbour news" in table and ticks

    good.write_text("---\ntitle: Harbour news, updated\n---\nThe harbour opened a new pier in 2020. It is 320 metres long.\n", encoding="utf-8")
    result, table, _ = h.add_articles([str(good)])
    assert "updated" in result and "Harbour news, updated" in table
    assert [a.title for a in engine.articles()] == ["Harbour news, updated"]

    # A broken re-upload leaves the good copy on disk and in the index.
    good.write_bytes(b"\x00\x01binary")
    result, _, _ = h.add_articles([str(good)])
    assert "binary file" in result
    assert "320 metres" in (uploads / "My_Article_1.md").read_text(encoding="utf-8")

    result, table = h.delete_article("My_Article_1")
    assert "was removed from the index" in result and not (uploads / "My_Article_1.md").exists()
    assert "No articles" in table
    result, _ = h.delete_article("nope")
    assert "There is no article &#x27;nope&#x27; in the index." in result
    engine.close()


# --- serve -------------------------------------------------------------------------------------
def test_serve_prints_the_url_queues_and_returns_0_when_stopped(fresh, monkeypatch):
    import socket
    import threading
    import time
    import urllib.request

    import byline.ui as ui

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    engine = fresh(port=port, concurrency=3)
    built = {}
    real_build = ui.build_app
    monkeypatch.setattr(ui, "build_app", lambda e: built.setdefault("app", real_build(e)))

    class Console:
        def __init__(self):
            self.lines: list[str] = []

        def print(self, *args, **kwargs):
            self.lines.append(" ".join(str(a) for a in args))

    console = Console()
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("rc", ui.serve(engine, console)), daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not any("running at" in line for line in console.lines) and time.monotonic() < deadline and thread.is_alive():
        time.sleep(0.1)
    line = next(line for line in console.lines if "running at" in line)
    url = re.search(r"http://[^\s\[]+", line).group(0)
    assert url == f"http://127.0.0.1:{port}/"
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200 and b"Byline" in response.read()
    app = built["app"]
    assert app.share is False and app._queue.default_concurrency_limit == 3
    close_app(app)
    thread.join(30)
    assert result.get("rc") == 0
    engine.close()
