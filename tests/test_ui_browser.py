"""The web chat in a real headless Chromium (Debian's /usr/bin/chromium driven by Playwright).

One app is launched in-process for the module, on a free port, over an engine with a temporary
copy of the bundled corpus and the default settings (the extractive backend); the packaged local
model is started too, and the streaming test switches the settings panel to it. Screenshots go
to test-artifacts/.

Deselect with `-m "not browser"`.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import copy_corpus, make_settings, served

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]
ANSWER_TIMEOUT_MS = 90_000
FINAL = '[data-state="done"], [data-state="refused"], [data-state="error"]'


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from byline import Engine

    root = tmp_path_factory.mktemp("ui")
    copy_corpus(root / "corpus")
    from byline.config import Settings

    default_backend = Settings.model_fields["backend"].default
    engine = Engine(make_settings(root, backend=default_backend, feedback_path=root / "feedback.jsonl"))
    engine.start_local_model()  # loads while the index is built
    report = engine.ingest()
    assert report.count("added") == 5, report.summary()
    engine.warm_up()
    for url in served(engine):
        yield SimpleNamespace(url=url + "/", engine=engine, root=root)
    engine.close()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: apt-get update && apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
    yield b
    b.close()
    pw.stop()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    p = context.new_page()
    p.set_default_timeout(30_000)
    errors: list[str] = []
    external: list[str] = []
    origin = server.url.rstrip("/")
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    p.on("request", lambda req: None if req.url.startswith((origin, "data:", "blob:")) else external.append(req.url))
    p.on("dialog", lambda dialog: dialog.accept())  # the delete confirmation
    p.goto(server.url, wait_until="domcontentloaded")
    p.wait_for_selector("#byline-chat .byline-conversation")
    p.wait_for_selector("#byline-question textarea")
    p.errors = errors
    yield p
    context.close()
    assert not external, f"the page fetched from elsewhere: {external}"  # self-hosted: nothing leaves the machine


# --- helpers -----------------------------------------------------------------------------------
def ask(page, question: str) -> str:
    """Type and submit a question; wait for its answer; return the exchange's CSS selector."""
    n = page.locator("#byline-chat .byline-exchange").count()
    box = page.locator("#byline-question textarea")
    box.fill(question)
    box.press("Enter")
    sel = f"#byline-ex-{n}"
    page.wait_for_selector(sel, state="attached")
    page.locator(sel).and_(page.locator(FINAL)).wait_for(timeout=ANSWER_TIMEOUT_MS)
    return sel


def record_states(page) -> None:
    """Record every data-state an exchange goes through (to see the answer stream)."""
    page.evaluate(
        """() => {
            window.__states = [];
            const root = document.querySelector('#byline-chat');
            const seen = () => root.querySelectorAll('.byline-exchange').forEach(e => {
                const key = e.id + ':' + e.getAttribute('data-state') + ':' + (e.querySelector('.byline-answer-text')?.textContent.length || 0);
                if (window.__states[window.__states.length - 1] !== key) window.__states.push(key);
            });
            new MutationObserver(seen).observe(root, {subtree: true, childList: true, characterData: true, attributes: true});
        }"""
    )


def use_backend(page, label_start: str) -> None:
    page.locator("#byline-backend label").filter(has_text=label_start).click()


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def upload(page, path: Path) -> str:
    """Upload a file on the Articles tab; return the result line text."""
    open_tab(page, "Articles")
    before = page.locator("#byline-upload-result").inner_text()
    page.locator("#byline-upload input[type=file]").set_input_files(str(path))
    page.wait_for_function(
        "before => { const el = document.querySelector('#byline-upload-result .byline-upload-result'); return el && el.innerText !== before; }",
        arg=before,
        timeout=60_000,
    )
    return page.locator("#byline-upload-result").inner_text()


# True when the element is inside the window and not clipped by any scrolling ancestor.
FULLY_VISIBLE = """sel => {
    const el = document.querySelector(sel);
    if (!el) return false;
    const r = el.getBoundingClientRect();
    if (r.height === 0 || r.top < 0 || r.bottom > window.innerHeight) return false;
    for (let p = el.parentElement; p; p = p.parentElement) {
        const s = getComputedStyle(p);
        if (/(auto|scroll|hidden)/.test(s.overflowY)) {
            const b = p.getBoundingClientRect();
            if (r.top < b.top - 1 || r.bottom > b.bottom + 1) return false;
        }
    }
    return true;
}"""


# Puts 1500 px above the elements a selector matches, as a style sheet so it survives Gradio
# re-rendering the conversation, with scroll anchoring off so the chat does not follow them down.
PUSH_DOWN = """sel => {
    const style = document.createElement('style');
    style.id = 'byline-test-push';
    style.textContent = sel + ' { margin-top: 1500px !important; } #byline-chat, #byline-chat * { overflow-anchor: none !important; }';
    document.head.appendChild(style);
}"""
# Scrolls the window and the element's scrolling ancestors to the top; true once it is out of view.
# Polled: the chat's autoscroll to the bottom may still fire after the last update of an answer.
SCROLLED_AWAY = (
    """sel => {
    const el = document.querySelector(sel);
    for (let p = el.parentElement; p; p = p.parentElement) p.scrollTop = 0;
    window.scrollTo(0, 0);
    return !(""" + FULLY_VISIBLE + """)(sel);
}"""
)


def shot(page, artifacts: Path, name: str) -> None:
    page.screenshot(path=str(artifacts / f"ui-{name}.png"), full_page=True)


# --- tests -------------------------------------------------------------------------------------
def test_geneva_answer_streams_cites_and_takes_a_follow_up(page, artifacts):
    """The local model: streamed answer with a chip, the chip opens its source, then a follow-up."""
    use_backend(page, "Local")
    record_states(page)
    sel = ask(page, "When was the Geneva summit?")
    shot(page, artifacts, "01-geneva-answer")
    answer = page.locator(f"{sel} .byline-answer-text")
    assert "June 2021" in answer.inner_text()
    chip = page.locator(f"{sel} .byline-chip[data-target]").first
    assert chip.is_visible()
    states = page.evaluate("window.__states")
    assert any(":streaming:" in s for s in states), f"the answer did not stream: {states}"

    # The sources panel under the answer: title, source and the passage with the sentence marked.
    card = page.locator(f"{sel} .byline-source").first
    assert "RBC" in card.locator(".byline-source-meta").inner_text()
    assert card.locator(".byline-source-title").inner_text().strip()

    # Push the source out of view first, so the click has to bring it back. Scroll anchoring would
    # follow the pushed-down panel if the chat was scrolled to it, so it is turned off.
    page.evaluate(PUSH_DOWN, f"{sel} .byline-sources")
    target = chip.get_attribute("data-target")
    page.wait_for_function(SCROLLED_AWAY, arg=f"#{target} mark")
    chip.click()
    page.wait_for_function(f"() => document.getElementById('{target}').classList.contains('byline-source-active')")
    mark = page.locator(f"#{target} mark")
    mark.wait_for(state="visible")
    page.wait_for_function(FULLY_VISIBLE, arg=f"#{target} mark")  # the smooth scroll has brought it into view
    assert "June 2021" in mark.inner_text()
    shot(page, artifacts, "02-chip-clicked-source")
    page.evaluate("() => document.getElementById('byline-test-push').remove()")

    sel = ask(page, "Who met there?")
    shot(page, artifacts, "03-follow-up")
    small = page.locator(f"{sel} .byline-standalone")
    assert small.is_visible()
    text = small.inner_text()
    assert "Geneva" in text and "Who met there?" in text
    size = small.evaluate("el => parseFloat(getComputedStyle(el).fontSize)")
    body = page.locator(f"{sel} .byline-question").evaluate("el => parseFloat(getComputedStyle(el).fontSize)")
    assert size < body
    assert page.locator(sel).get_attribute("data-state") in ("done", "refused")
    assert page.locator(f"{sel} .byline-answer-text").inner_text().strip()
    assert not page.errors


def test_refusal_backend_failure_and_clear(page, artifacts):
    use_backend(page, "Extractive")
    sel = ask(page, "Can you give me a recipe for sourdough bread?")
    assert page.locator(sel).get_attribute("data-state") == "refused"
    assert page.locator(f"{sel} .byline-refused-label").inner_text().strip().lower() == "not covered"
    assert page.locator(f"{sel} .byline-answer").evaluate("el => getComputedStyle(el).borderTopStyle") == "dashed"
    assert "No passage is about this question." == page.locator(f"{sel} .byline-refused-why").inner_text().strip()  # why it was refused

    use_backend(page, "OpenAI-compatible")
    page.get_by_label("Base URL (OpenAI-compatible)").fill("http://127.0.0.1:9/v1")
    sel = ask(page, "When was the Geneva summit?")
    shot(page, artifacts, "04-refusal-and-backend-down")
    notice = page.locator(f"{sel} .byline-notice").inner_text()
    assert "Cannot reach" in notice or "connection" in notice.lower()
    assert "June 2021" in page.locator(f"{sel} .byline-answer-text").inner_text()
    assert "Traceback" not in page.content()

    page.locator("#byline-clear").click()
    page.wait_for_selector("#byline-chat .byline-empty")
    assert page.locator("#byline-chat .byline-exchange").count() == 0
    shot(page, artifacts, "05-cleared")


def test_upload_ask_cite_then_delete(page, artifacts, server, tmp_path):
    article = tmp_path / "zorblat-festival.md"
    article.write_text(
        "---\n"
        'title: "Zorblat apricot festival breaks its record"\n'
        "source: Quux Valley Herald\n"
        "published: 2023-08-14\n"
        "url: https://example.org/zorblat\n"
        "---\n"
        "The Zorblat apricot festival drew 48,213 visitors this year, organiser Mirela Quant said on Monday. "
        "It was the largest crowd since the festival was founded in 1931. "
        "Stalls sold apricot jam, dried apricots and apricot brandy.\n",
        encoding="utf-8",
    )
    result = upload(page, article)
    shot(page, artifacts, "06-uploaded")
    assert "added" in result and "Zorblat apricot festival breaks its record" in result
    assert (server.root / "corpus" / "uploads" / "zorblat-festival.md").is_file()
    row = page.locator("#byline-articles tr[data-article-id='zorblat-festival']")
    assert "Quux Valley Herald" in row.inner_text() and "2023-08-14" in row.inner_text()

    open_tab(page, "Chat")
    use_backend(page, "Extractive")
    sel = ask(page, "How many visitors did the Zorblat apricot festival draw?")
    shot(page, artifacts, "07-uploaded-article-cited")
    assert "48,213" in page.locator(f"{sel} .byline-answer-text").inner_text()
    assert page.locator(f"{sel} .byline-source[data-article-id='zorblat-festival']").count() == 1
    assert page.locator(f"{sel} .byline-chip[data-target]").count() >= 1

    open_tab(page, "Articles")
    row.locator(".byline-delete").click()
    row.wait_for(state="detached")
    shot(page, artifacts, "08-deleted")
    assert "removed" in page.locator("#byline-upload-result").inner_text()
    assert all(a.id != "zorblat-festival" for a in server.engine.articles())
    assert not (server.root / "corpus" / "uploads" / "zorblat-festival.md").exists()


def test_upload_refuses_wrong_type_and_oversize_with_messages(page, artifacts, server, tmp_path):
    bad = tmp_path / "notes.pdf"
    bad.write_bytes(b"%PDF-1.4 not an article")
    result = upload(page, bad)
    assert "notes.pdf is a .pdf file; only .md, .txt, .html and .jsonl files can be added." in result
    assert not (server.root / "corpus" / "uploads" / "notes.pdf").exists()

    limit = server.engine.settings.max_upload_mb
    big = tmp_path / "big.md"
    with big.open("wb") as fh:
        fh.write(b"# Big\n")
        fh.truncate(limit * 1024 * 1024 + 1024)
    page.locator("#byline-upload input[type=file]").set_input_files(str(big))
    toast = page.get_by_text(f"exceed the maximum allowed size of {limit}.0 Mb")
    toast.wait_for()
    shot(page, artifacts, "09-wrong-type-and-oversize")
    assert not (server.root / "corpus" / "uploads" / "big.md").exists()


XSS_TITLE = 'Quux <script>window.__xss=1</script> & <img src=x onerror="window.__xss=2"> bulletin'
XSS_BODY = (
    "The Quux harbour authority said <script>window.__xss=1</script> the lighthouse keeper is Odalys Brennecke. "
    '<img src=x onerror="window.__xss=2"> She has kept the Quux lighthouse since 1998. '
    "Her logbook notes read ${window.__xss=5} and {{constructor.constructor('window.__xss=6')()}} "
    "and &lt;img src=x onerror=window.__xss=4&gt; in the margins.\n"
)


def test_untrusted_text_never_runs(page, artifacts, server, tmp_path):
    name = '<img src=x onerror="window.__xss=3">quux.md'
    path = tmp_path / name
    path.write_text(f'---\ntitle: "{XSS_TITLE.replace(chr(34), chr(92) + chr(34))}"\nsource: "<b>Quux</b> Wire"\n---\n{XSS_BODY}', encoding="utf-8")
    result = upload(page, path)
    assert "added" in result, result
    # The file name as it reached the server (Gradio drops < and > and percent-encodes quotes) is
    # shown as text; the saved copy has a safe name.
    assert "img src=x onerror=%22window.__xss=3%22quux.md" in result
    assert (server.root / "corpus" / "uploads" / "img_src_x_onerror_22window.__xss_3_22quux.md").is_file()
    info = next(a for a in server.engine.articles() if a.title.startswith("Quux"))
    assert "window.__xss=1" in info.title  # the engine drops tags from titles; what is left must show as text
    row = page.locator(f"#byline-articles tr[data-article-id='{info.id}']")
    assert info.title in row.inner_text()
    shot(page, artifacts, "10-xss-article-listed")

    open_tab(page, "Chat")
    use_backend(page, "Extractive")
    sel = ask(page, 'Who is the Quux lighthouse keeper? <script>window.__xss=7</script><img src=x onerror="window.__xss=8">')
    shot(page, artifacts, "11-xss-asked")
    assert page.locator(f"{sel} .byline-question").inner_text().endswith('<script>window.__xss=7</script><img src=x onerror="window.__xss=8">')
    card = page.locator(f"{sel} .byline-source[data-article-id='{info.id}']")
    assert card.count() == 1
    assert info.title in card.locator(".byline-source-title").inner_text()
    passage = card.locator(".byline-passage").inner_text()
    assert "${window.__xss=5}" in passage
    assert "{{constructor.constructor('window.__xss=6')()}}" in passage
    assert "&lt;img src=x onerror=window.__xss=4&gt;" in passage
    page.locator(f"{sel} .byline-chip[data-target]").first.click()
    page.wait_for_timeout(500)
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.locator("#byline-chat img, #byline-chat script").count() == 0
    open_tab(page, "Articles")
    assert page.locator("#byline-articles img, #byline-articles script, #byline-upload-result img").count() == 0
    assert page.evaluate("typeof window.__xss") == "undefined"
    shot(page, artifacts, "12-xss-after")


def test_sessions_are_separate_and_examples_ask(browser, server, artifacts):
    """Two people at once: each page gets its own answer and keeps its own conversation."""
    pages = []
    for _ in range(2):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        p = context.new_page()
        p.set_default_timeout(30_000)
        p.goto(server.url, wait_until="domcontentloaded")
        p.wait_for_selector("#byline-chat .byline-conversation")
        use_backend(p, "Extractive")
        pages.append(p)
    a, b = pages
    a.get_by_role("button", name="Who is the Kremlin spokesman?").click()  # an example question
    box = b.locator("#byline-question textarea")
    box.fill("When was the Putin-Biden summit in Geneva held?")
    box.press("Enter")
    for p in pages:
        p.locator("#byline-ex-0").and_(p.locator(FINAL)).wait_for(timeout=ANSWER_TIMEOUT_MS)
    shot(a, artifacts, "13-session-a-example")
    shot(b, artifacts, "14-session-b")
    assert "Peskov" in a.locator("#byline-ex-0 .byline-answer-text").inner_text()
    assert "June 2021" in b.locator("#byline-ex-0 .byline-answer-text").inner_text()
    for p in pages:
        assert p.locator("#byline-chat .byline-exchange").count() == 1
        p.context.close()


# Is the top of the element inside its scrolling panel and the window?
TOP_IN_VIEW = """sel => {
    const el = document.querySelector(sel);
    if (!el) return false;
    const top = el.getBoundingClientRect().top;
    if (top < 0 || top > window.innerHeight - 10) return false;
    for (let p = el.parentElement; p; p = p.parentElement) {
        if (/(auto|scroll)/.test(getComputedStyle(p).overflowY)) {
            const b = p.getBoundingClientRect();
            if (top < b.top - 1 || top > b.bottom - 10) return false;
        }
    }
    return true;
}"""


def test_first_five_minutes_examples_follow_and_feedback(page, artifacts, server, tmp_path, capsys):
    """Issue #14: the default settings answer the page's four examples with a citation and no fault
    banner; the fifth answer starts inside the visible panel; a thumb down is written to
    feedback.jsonl and `eval` reads it."""
    import json

    from byline.config import Settings
    from byline.ui import EXAMPLES

    assert server.engine.settings.backend == Settings.model_fields["backend"].default  # what a new user gets
    for i, q in enumerate(EXAMPLES):
        page.get_by_role("button", name=q).click()
        sel = f"#byline-ex-{i}"
        page.wait_for_selector(sel, state="attached")
        page.locator(sel).and_(page.locator(FINAL)).wait_for(timeout=ANSWER_TIMEOUT_MS)
        assert page.locator(sel).get_attribute("data-state") == "done", q
        assert page.locator(f"{sel} .byline-answer").get_attribute("data-tier") in ("answer", "closest"), q
        assert page.locator(f"{sel} .byline-chip").count() >= 1, q
        assert page.locator(f"{sel} .byline-notice").count() == 0, (q, page.locator(f"{sel} .byline-notice").all_inner_texts())
    sel = ask(page, "whos the kremlin spokesman")  # the fifth
    page.wait_for_function(TOP_IN_VIEW, arg=f"{sel} .byline-answer-text", timeout=10_000)
    shot(page, artifacts, "15-fifth-answer-in-view")

    # Thumbs down on the first answer: one line in feedback.jsonl, and the button shows it.
    feedback = server.root / "feedback.jsonl"
    before = feedback.read_text(encoding="utf-8").count("\n") if feedback.exists() else 0
    page.locator("#byline-ex-0 .byline-thumb[data-verdict=down]").click()
    page.wait_for_function("() => document.querySelector('#byline-ex-0 .byline-thumb[data-verdict=down]').getAttribute('aria-pressed') === 'true'")
    for _ in range(100):
        if feedback.exists() and feedback.read_text(encoding="utf-8").count("\n") > before:
            break
        page.wait_for_timeout(100)
    line = json.loads(feedback.read_text(encoding="utf-8").splitlines()[-1])
    assert line["verdict"] == "down" and line["question"] == EXAMPLES[0] and "June 2021" in line["answer"]
    assert line["tier"] == "answer" and line["citations"] and line["time"]

    from rich.console import Console

    from byline.cli import build_parser, settings_from
    from byline.evaluation.runner import run_cli

    out = tmp_path / "feedback-report"
    args = build_parser().parse_args(["eval", "--set", str(feedback), "--index-dir", str(server.root / "index"), "--corpus-dir", str(server.root / "corpus"), "--backend", "extractive", "--out", str(out)])
    assert run_cli(args, settings_from(args), Console(stderr=True, force_terminal=False)) == 0
    report = (out / "report.md").read_text(encoding="utf-8")
    assert EXAMPLES[0] in report and "June 2021" in report
    assert json.loads((out / "results.json").read_text(encoding="utf-8"))["summary"]["feedback_lines_down"] >= 1
    assert not page.errors


def test_a_capable_model_answer_shows_each_sentence_checked(page, artifacts):
    """Issue #13: a capable model (a real OpenAI-protocol server) answers in its own words; the page
    keeps its supported sentence with a chip and marks the unsupported one. The screenshot is the
    one README's "Use another model" shows."""
    from support.fake_openai import FakeOpenAIServer

    reply = "The Geneva summit between Biden and Putin was held in June 2021 [1]. It lasted nine days [1]."
    with FakeOpenAIServer(reply=reply) as fake:
        use_backend(page, "OpenAI-compatible")
        page.get_by_label("Base URL (OpenAI-compatible)").fill(fake.base_url)
        page.get_by_role("textbox", name="Model").fill(fake.model)
        sel = ask(page, "When was the Geneva summit?")
    answer = page.locator(f"{sel} .byline-answer")
    assert answer.get_attribute("data-mode") == "generated", answer.inner_text()
    text = answer.inner_text()
    assert "June 2021" in text and "nine days" in text
    unsupported = page.locator(f"{sel} .byline-unsupported")
    assert unsupported.count() == 1 and "nine days" in unsupported.inner_text() and "unsupported" in unsupported.inner_text()
    assert page.locator(f"{sel} .byline-chip").count() >= 1 and page.locator(f"{sel} .byline-notice").count() == 0
    page.locator(sel).screenshot(path=str(artifacts / "ui-16-capable-model.png"))
    assert not page.errors
