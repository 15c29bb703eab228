"""The web chat: a Gradio 6 Blocks app over the Engine.

`python app.py` (byline/cli.py) builds the index if needed and calls `serve(engine, console)`.
`build_app(engine)` returns the Blocks without launching it (tests and benchmarks launch it
in-process).

Everything the page shows from articles, uploads and questions is untrusted: the HTML is built
here by small pure functions (`render_*`) that pass every such string through `html.escape` and
only ever link http(s) URLs. The conversation is one `gr.HTML` (inserted with innerHTML by
Gradio, so it is never run through a Markdown sanitiser we would have to trust). Engine calls
are wrapped so a failure becomes one sentence on the page, never a traceback.
"""

from __future__ import annotations

import html
import logging
import re
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from byline.dates import as_of_for
from byline.types import Answer, ArticleInfo, Citation, Done, IngestReport, SourcesFound, StandaloneQuestion, Token, Turn

if TYPE_CHECKING:  # gradio takes seconds to import; the render helpers do not need it
    import gradio as gr

    from byline.engine import Engine

log = logging.getLogger("byline.ui")

ASSETS = Path(__file__).resolve().parent / "ui_assets"
UPLOAD_SUFFIXES = (".md", ".txt", ".html", ".jsonl")
EXAMPLES = [
    "When was the Geneva summit?",
    "How long did the Putin–Biden phone call last?",
    "Who is the Kremlin spokesman?",
    "What did Russia hand to the US and NATO in December?",
]  # each is answered, not refused, on the bundled corpus (tests/test_answering.py)
BACKEND_CHOICES = [
    ("Extractive (quote the best sentence, no model)", "extractive"),
    ("Local model (packaged SmolLM2, on this machine)", "local"),
    ("OpenAI-compatible server (Ollama, vLLM, llama.cpp, LM Studio)", "openai-compatible"),
    ("OpenAI", "openai"),
]
HISTORY_TURNS = 4  # previous exchanges sent with a question (the engine reads the last two)
_CITE_RE = re.compile(r"\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")
_SAFE_NAME_RE = re.compile(r"[^A-Za-z0-9._-]+")


# --- conversation state ------------------------------------------------------------------------
@dataclass
class Exchange:
    """One question and its answer as the page shows it (kept per browser session in gr.State)."""

    question: str
    standalone: str = ""  # the rewritten follow-up, when the engine rewrote it
    text: str = ""  # streamed tokens, replaced by the final answer text on Done
    citations: list[Citation] = field(default_factory=list)
    refused: bool = False
    notice: str = ""
    error: str = ""
    mode: str = ""
    tier: str = ""
    short_answer: str | None = None
    sentences: list = field(default_factory=list)  # verify.CheckedSentence of a generated answer
    done: bool = False
    feedback: str = ""  # "up" or "down" once the user gave a thumb

    def apply(self, answer: Answer) -> None:
        self.text = answer.answer
        self.tier = answer.tier
        self.short_answer = answer.short_answer
        self.sentences = list(answer.sentences) if answer.mode == "generated" else []
        self.citations = list(answer.citations)
        self.refused = answer.refused
        self.notice = answer.notice
        self.mode = answer.mode
        if answer.standalone_question and answer.standalone_question.strip() != self.question.strip():
            self.standalone = answer.standalone_question
        self.done = True

    def turn(self) -> Turn | None:
        if not self.done or self.error:
            return None
        return Turn(self.question, self.text, self.standalone or self.question)


# --- rendering (pure functions; every untrusted string goes through esc) -----------------------
def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def safe_url(url: str | None) -> str | None:
    """The URL if it is plain http(s) with a host, else None (no javascript:, data:, ...)."""
    url = (url or "").strip()
    if not url or any(ch in url for ch in "\x00\r\n\t "):
        return None
    try:
        parsed = urlparse(url)
    except ValueError:
        return None
    if parsed.scheme.lower() not in ("http", "https") or not parsed.netloc:
        return None
    return url


def source_anchor(exchange_index: int, n: int) -> str:
    return f"byline-src-{int(exchange_index)}-{int(n)}"


def render_answer_text(text: str, citations: list[Citation], exchange_index: int) -> str:
    """Answer text, escaped, with each `[n]` (or `[1, 2]`) marker turned into citation chips."""
    known = {c.n: c for c in citations}
    out: list[str] = []
    pos = 0
    for m in _CITE_RE.finditer(text or ""):
        out.append(esc(text[pos : m.start()]))
        for raw in m.group(1).split(","):
            n = int(raw)
            c = known.get(n)
            if c is None:
                out.append(f'<span class="byline-chip byline-chip-unknown">{n}</span>')
            else:
                label = esc(f"Source {n}: {c.title}")
                out.append(
                    f'<button type="button" class="byline-chip" data-target="{source_anchor(exchange_index, n)}" '
                    f'title="{label}" aria-label="{label}">{n}</button>'
                )
        pos = m.end()
    out.append(esc((text or "")[pos:]))
    return "".join(out)


def render_answer_body(ex: "Exchange", index: int) -> str:
    """The finished answer: the short answer in bold, closest-tier lines one per row, and each
    generated sentence that no passage supports marked (never shown as cited fact)."""
    if ex.sentences and ex.mode == "generated":
        out = []
        for s in ex.sentences:
            text = s.text + "".join(f" [{n}]" for n in s.citations)
            html = render_answer_text(text, ex.citations, index)
            if not s.supported:
                why = esc(f"Not supported by the passages: {s.reason}" if s.reason else "Not supported by the passages")
                html = f'<span class="byline-unsupported" title="{why}">{html}<span class="byline-unsupported-label">unsupported</span></span>'
            out.append(html)
        return " ".join(out)
    if ex.tier == "closest":
        lines = (ex.text or "").split("\n")
        head, rest = lines[0], [ln.removeprefix("- ") for ln in lines[1:] if ln.strip()]
        items = "".join(f"<li>{render_answer_text(ln, ex.citations, index)}</li>" for ln in rest)
        return f'<div class="byline-closest-line">{esc(head)}</div><ul class="byline-closest-list">{items}</ul>'
    short = ex.short_answer
    if short and (ex.text or "").startswith(short):
        return f'<strong class="byline-short">{esc(short)}</strong>' + render_answer_text(ex.text[len(short) :], ex.citations, index)
    return render_answer_text(ex.text, ex.citations, index)


def render_passage(citation: Citation) -> str:
    """The passage, escaped, with the supporting sentence in <mark>."""
    p = citation.passage or ""
    s, e = citation.highlight_start, citation.highlight_end
    if not (isinstance(s, int) and isinstance(e, int) and 0 <= s < e <= len(p)):
        return esc(p)
    return f'{esc(p[:s])}<mark class="byline-support">{esc(p[s:e])}</mark>{esc(p[e:])}'


def render_source(citation: Citation, exchange_index: int) -> str:
    url = safe_url(citation.url)
    title = esc(citation.title or citation.article_id)
    if url:
        title = f'<a href="{esc(url)}" target="_blank" rel="noopener noreferrer nofollow">{title}</a>'
    meta = [esc(x) for x in (citation.source, citation.published) if x]
    if url:
        host = urlparse(url).netloc
        meta.append(f'<a href="{esc(url)}" target="_blank" rel="noopener noreferrer nofollow">{esc(host)}</a>')
    meta_html = " · ".join(meta) if meta else '<span class="byline-muted">source and date unknown</span>'
    return (
        f'<div class="byline-source" id="{source_anchor(exchange_index, citation.n)}" tabindex="-1" '
        f'data-article-id="{esc(citation.article_id)}">'
        f'<div class="byline-source-head"><span class="byline-source-n">{int(citation.n)}</span>'
        f'<span class="byline-source-title">{title}</span></div>'
        f'<div class="byline-source-meta">{meta_html}</div>'
        f'<blockquote class="byline-passage">{render_passage(citation)}</blockquote>'
        "</div>"
    )


def render_sources(citations: list[Citation], exchange_index: int) -> str:
    if not citations:
        return ""
    cards = "".join(render_source(c, exchange_index) for c in citations)
    return f'<div class="byline-sources"><div class="byline-sources-title">Sources</div>{cards}</div>'


def render_exchange(ex: Exchange, index: int) -> str:
    parts = [f'<div class="byline-question">{esc(ex.question)}</div>']
    if ex.standalone and ex.standalone.strip() != ex.question.strip():
        parts.append(f'<div class="byline-standalone">Searched for: {esc(ex.standalone)}</div>')
    if ex.error:
        parts.append(
            '<div class="byline-answer byline-error" role="alert"><span class="byline-error-label">Error</span>'
            f'<div class="byline-answer-text">{esc(ex.error)}</div></div>'
        )
        state = "error"
    elif ex.refused:
        parts.append(
            '<div class="byline-answer byline-refused"><span class="byline-refused-label">Not covered</span>'
            f'<div class="byline-answer-text">{esc(ex.text)}</div>'
            + (f'<div class="byline-refused-why">{esc(ex.notice)}</div>' if ex.notice else "")
            + "</div>"
        )
        state = "refused"
    else:
        state = "done" if ex.done else ("streaming" if ex.text else "pending")
        notice = f'<div class="byline-notice">{esc(ex.notice)}</div>' if ex.notice else ""
        label = ""
        if ex.done and ex.tier == "closest":
            label = '<span class="byline-tier-label">Closest passages</span>'
        elif ex.done and ex.mode == "fallback" and not ex.notice:
            label = '<span class="byline-quoted-label" title="The model\'s answer did not hold up against the passage, so the passage is quoted.">quoted</span>'
        body = render_answer_body(ex, index) if ex.done else render_answer_text(ex.text, ex.citations, index)
        parts.append(
            f'<div class="byline-answer byline-{state} byline-tier-{esc(ex.tier or "answer")}" data-mode="{esc(ex.mode)}" data-tier="{esc(ex.tier)}">{notice}{label}'
            f'<div class="byline-answer-text">{body}</div></div>'
        )
        if ex.done:
            parts.append(render_sources(ex.citations, index))
    if ex.done or ex.error:
        parts.append(render_actions(ex, index))
    return f'<div class="byline-exchange" id="byline-ex-{index}" data-state="{state}">{"".join(parts)}</div>'


def render_actions(ex: Exchange, index: int) -> str:
    """Copy, retry and thumbs under a finished answer (chat.js handles the clicks)."""
    buttons = []
    if not ex.error:
        buttons.append(f'<button type="button" class="byline-act byline-copy" data-index="{index}" title="Copy the answer">Copy</button>')
    buttons.append(f'<button type="button" class="byline-act byline-retry" data-question="{esc(ex.question)}" title="Ask this question again">Retry</button>')
    if not ex.error:
        for verdict, label, title in (("up", "Good", "A good answer"), ("down", "Bad", "A bad answer: kept in feedback.jsonl for review")):
            pressed = "true" if ex.feedback == verdict else "false"
            buttons.append(f'<button type="button" class="byline-act byline-thumb" data-index="{index}" data-verdict="{verdict}" aria-pressed="{pressed}" title="{title}">{label}</button>')
    return f'<div class="byline-actions">{"".join(buttons)}</div>'


def render_streaming(ex: Exchange, index: int) -> str:
    """The exchange being answered, left open after its text: each token then only extends the
    page's HTML, which Gradio sends as an append (its diff of streamed values), so a token costs
    the same at turn 20 as at turn 1. The browser closes the open tags; markers become chips at Done."""
    # Nothing before the text may change as tokens come ("pending" → "streaming" would), so the
    # state is "streaming" from the start and CSS tells an empty answer from one being written.
    parts = [f'<div class="byline-exchange" id="byline-ex-{index}" data-state="streaming">',
             f'<div class="byline-question">{esc(ex.question)}</div>']  # fmt: skip
    if ex.standalone and ex.standalone.strip() != ex.question.strip():
        parts.append(f'<div class="byline-standalone">Searched for: {esc(ex.standalone)}</div>')
    parts.append(f'<div class="byline-answer byline-live" data-mode="" data-tier=""><div class="byline-answer-text">{esc(ex.text)}')
    return "".join(parts)


def render_conversation(exchanges: list[Exchange], streaming: bool = False, earlier: str | None = None) -> str:
    """The whole conversation; `streaming`: the last exchange is being answered (render_streaming),
    `earlier`: the exchanges before it, already rendered (they do not change while it streams)."""
    head = '<div class="byline-conversation" aria-live="polite">'
    if not exchanges:
        return head + '<div class="byline-empty">Ask a question about the articles. Answers cite their sources.</div></div>'
    last = exchanges[-1]
    if streaming and not (last.done or last.error):
        if earlier is None:
            earlier = "".join(render_exchange(ex, i) for i, ex in enumerate(exchanges[:-1]))
        return head + earlier + render_streaming(last, len(exchanges) - 1)
    return head + "".join(render_exchange(ex, i) for i, ex in enumerate(exchanges)) + "</div>"


def render_articles(articles: list[ArticleInfo]) -> str:
    if not articles:
        return '<p class="byline-muted">No articles are indexed yet. Add some above.</p>'
    rows = []
    for a in articles:
        url = safe_url(a.url)
        title = esc(a.title or a.id)
        if url:
            title = f'<a href="{esc(url)}" target="_blank" rel="noopener noreferrer nofollow">{title}</a>'
        rows.append(
            f'<tr data-article-id="{esc(a.id)}">'
            f'<td class="byline-article-title">{title}<span class="byline-article-id">{esc(a.id)}</span></td>'
            f"<td>{esc(a.source) or '–'}</td><td>{esc(a.published) or '–'}</td><td>{int(a.passages)}</td>"
            f'<td><button type="button" class="byline-delete" data-article-id="{esc(a.id)}" data-title="{esc(a.title or a.id)}" '
            f'aria-label="{esc("Delete " + (a.title or a.id))}">Delete</button></td></tr>'
        )
    count = f"{len(articles)} article{'s' if len(articles) != 1 else ''} indexed"
    return (
        f'<p class="byline-muted byline-article-count">{count}</p>'
        '<table class="byline-articles"><thead><tr><th>Title</th><th>Source</th><th>Date</th><th>Passages</th><th></th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


@dataclass
class ResultLine:
    status: str  # added / updated / skipped / removed / error
    text: str  # plain text, escaped when rendered


def render_result_lines(lines: list[ResultLine], summary: str = "") -> str:
    if not lines and not summary:
        return ""
    items = "".join(
        f'<li class="byline-status-{esc(line.status)}"><span class="byline-status-word">{esc(line.status)}</span> {esc(line.text)}</li>'
        for line in lines
    )
    head = f"<div>{esc(summary)}</div>" if summary else ""
    return f'<div class="byline-upload-result" role="status">{head}<ul>{items}</ul></div>'


def report_lines(report: IngestReport, names: dict[str, str]) -> list[ResultLine]:
    """One line per ingest item, naming the uploaded file as the user called it (no server paths)."""
    lines = []
    for item in report.items:
        path, _, line_no = item.path.rpartition(":") if _looks_like_line_ref(item.path) else (item.path, "", "")
        name = names.get(_resolved(path), Path(path).name)
        where = f"{name} line {line_no}" if line_no else name
        title = f"“{item.title}”" if item.title else where
        if item.status == "added":
            text = f"{title} from {where}"
        elif item.status == "updated":
            text = f"{title} from {where} (it changed, so it replaced the indexed copy)"
        elif item.status == "skipped":
            text = f"{title} from {where}: {item.reason or 'unchanged'}, already indexed"
        elif item.status == "removed":
            text = f"{title}: {item.reason or 'no longer in the file'}"
        else:
            text = f"{where}: {item.reason or 'could not be read'}"
        lines.append(ResultLine(item.status, text))
    return lines


def _looks_like_line_ref(path: str) -> bool:
    return bool(re.search(r":\d+$", path))


def _resolved(path: str) -> str:
    try:
        return str(Path(path).resolve())
    except (OSError, RuntimeError):
        return path


# --- uploads -----------------------------------------------------------------------------------
def sanitize_filename(name: str) -> str:
    """A safe file name for corpus/uploads/: no folders, only [A-Za-z0-9._-], extension kept."""
    base = re.split(r"[\\/]", name or "")[-1]
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = _SAFE_NAME_RE.sub("_", stem).strip("._-")[:80] or "upload"
    suffix = _SAFE_NAME_RE.sub("", suffix).lower()[:10]
    return f"{stem}.{suffix}" if suffix else stem


def check_upload(original_name: str, size_bytes: int, max_mb: int) -> str | None:
    """A sentence saying why this upload is refused, or None when it may be ingested."""
    suffix = Path(re.split(r"[\\/]", original_name or "")[-1]).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        kind = f"a {suffix} file" if suffix else "a file without an extension"
        return f"{original_name} is {kind}; only .md, .txt, .html and .jsonl files can be added."
    if size_bytes > max_mb * 1024 * 1024:
        return f"{original_name} is {size_bytes / 1024 / 1024:.1f} MB; the limit is {max_mb} MB."
    if size_bytes == 0:
        return f"{original_name} is empty."
    return None


# --- errors ------------------------------------------------------------------------------------
def one_sentence(exc: BaseException, doing: str = "answering") -> str:
    """A user-facing sentence for an exception: the engine's own message when it is meant for
    users, otherwise a generic line (the traceback goes to the server log)."""
    from byline.config import ConfigError
    from byline.corpus import CorpusError
    from byline.engine import QuestionError
    from byline.llm import GeneratorError

    user_facing: tuple[type[BaseException], ...] = (QuestionError, ConfigError, CorpusError, GeneratorError)
    try:
        from byline.store import IndexError_

        user_facing += (IndexError_,)
    except ImportError:  # pragma: no cover
        pass
    try:
        from byline.onnx_models import ModelNotFound

        user_facing += (ModelNotFound,)
    except ImportError:  # pragma: no cover
        pass
    text = str(exc).strip().splitlines()[0].strip() if str(exc).strip() else ""
    if isinstance(exc, user_facing) and text:
        return text if len(text) <= 300 else text[:297] + "…"
    return f"Something went wrong while {doing}; the details are in the server log."


def question_overrides(backend: str | None, base_url: str | None, model: str | None, api_key: str | None, top_k: Any) -> dict[str, Any]:
    """Settings overrides for one question from the settings panel (validated here)."""
    from pydantic import SecretStr

    from byline.engine import QuestionError

    choices = {value for _, value in BACKEND_CHOICES}
    over: dict[str, Any] = {}
    if backend:
        if backend not in choices:
            raise QuestionError(f"Unknown backend {backend!r}.")
        over["backend"] = backend
    try:
        k = int(top_k) if top_k not in (None, "") else None
    except (TypeError, ValueError):
        k = None
    if k is not None:
        over["top_k"] = max(1, min(10, k))
    if backend in ("openai", "openai-compatible"):
        url = (base_url or "").strip()
        if backend == "openai-compatible":
            if not url:
                raise QuestionError("The OpenAI-compatible backend needs a base URL, e.g. http://127.0.0.1:11434/v1.")
            if not safe_url(url):
                raise QuestionError("The base URL must start with http:// or https://.")
            over["base_url"] = url
        if (model or "").strip():
            over["model"] = model.strip()
        if (api_key or "").strip():
            # Settings.api_key is a SecretStr; model_copy(update=...) does not convert a str.
            over["api_key"] = SecretStr(api_key.strip())
    return over


# --- the app -----------------------------------------------------------------------------------
def _asset(name: str) -> str:
    return (ASSETS / name).read_text(encoding="utf-8")


class _Handlers:
    """The event handlers, bound to one engine. Each catches everything around engine calls."""

    def __init__(self, engine: "Engine"):
        self.engine = engine

    # chat
    def ask(self, question, exchanges, backend, base_url, model, api_key, top_k):
        from byline.engine import QuestionError

        exchanges = list(exchanges or [])
        question = (question or "").strip()
        history = [t for t in (e.turn() for e in exchanges[-HISTORY_TURNS:]) if t]
        ex = Exchange(question=question)
        earlier = "".join(render_exchange(e, i) for i, e in enumerate(exchanges))  # rendered once per question
        exchanges.append(ex)
        yield render_conversation(exchanges, streaming=True, earlier=earlier), exchanges, ""
        try:
            overrides = question_overrides(backend, base_url, model, api_key, top_k)
            events = self.engine.stream(question, history, as_of_for(question), **overrides)
            for event in events:
                if isinstance(event, Token):
                    ex.text += event.text
                elif isinstance(event, StandaloneQuestion):
                    ex.standalone = event.text
                elif isinstance(event, SourcesFound):
                    ex.citations = list(event.citations)
                    continue  # Done follows at once
                elif isinstance(event, Done):
                    ex.apply(event.answer)
                yield render_conversation(exchanges, streaming=True, earlier=earlier), exchanges, ""
        except QuestionError as exc:
            ex.error = str(exc)
        except Exception as exc:  # never a traceback on the page
            log.exception("answering %r failed", question[:200])
            ex.error = one_sentence(exc)
        if ex.done and not ex.error:
            return  # the Done update above was the last one
        if not ex.error:
            ex.error = "The answer stopped before it was complete; please try again."
        ex.done = True
        yield render_conversation(exchanges), exchanges, ""

    def feedback(self, exchanges, backend, evt):
        """A thumb on answer `index`: one line appended to feedback.jsonl; the page shows it pressed."""
        from byline import feedback

        exchanges = list(exchanges or [])
        data = getattr(evt, "_data", None) or {}
        try:
            index, verdict = int(data.get("index", -1)), str(data.get("verdict", ""))
        except (TypeError, ValueError):
            index, verdict = -1, ""
        if 0 <= index < len(exchanges) and verdict in ("up", "down") and exchanges[index].done:
            ex = exchanges[index]
            try:
                feedback.append(self.engine.settings.feedback_path, feedback.record(ex, verdict, backend or self.engine.settings.backend))
                ex.feedback = verdict
            except OSError as exc:
                log.warning("could not write feedback: %s", exc)
                ex.notice = f"Your feedback could not be saved ({exc.strerror or 'I/O error'})."
        return render_conversation(exchanges), exchanges

    @staticmethod
    def clear():
        return render_conversation([]), [], ""

    # articles
    def articles_html(self) -> str:
        try:
            return render_articles(self.engine.articles())
        except Exception as exc:
            log.exception("listing articles failed")
            return f'<p class="byline-status-error">{esc(one_sentence(exc, "listing the articles"))}</p>'

    def add_articles(self, files, progress=None):
        files = files if isinstance(files, list) else ([files] if files else [])
        lines: list[ResultLine] = []
        uploads = Path(self.engine.settings.corpus_dir) / "uploads"
        names: dict[str, str] = {}
        saved: list[Path] = []
        backups: dict[Path, Path | None] = {}
        backup_dir = Path(tempfile.mkdtemp(prefix="byline-upload-"))
        try:
            for f in files:
                src = Path(f if isinstance(f, str) else getattr(f, "name", None) or getattr(f, "path", ""))
                original = src.name
                try:
                    size = src.stat().st_size
                except OSError:
                    lines.append(ResultLine("error", f"{original}: the upload did not arrive; please try again."))
                    continue
                problem = check_upload(original, size, self.engine.settings.max_upload_mb)
                if problem:
                    lines.append(ResultLine("error", problem))
                    continue
                dest = uploads / sanitize_filename(original)
                if dest in backups:
                    lines.append(ResultLine("error", f"{original}: another file in this upload has the same name."))
                    continue
                try:
                    uploads.mkdir(parents=True, exist_ok=True)
                    if dest.exists():
                        backups[dest] = backup_dir / f"{len(backups)}-{dest.name}"
                        shutil.copyfile(dest, backups[dest])
                    else:
                        backups[dest] = None
                    shutil.copyfile(src, dest)
                except OSError as exc:
                    lines.append(ResultLine("error", f"{original} could not be saved ({exc.strerror or 'I/O error'})."))
                    continue
                names[_resolved(str(dest))] = original
                saved.append(dest)
            if saved:
                def tick(done: int, total: int, label: str) -> None:
                    if progress is not None:
                        progress((done, total), desc=f"Ingesting {label[:60]}", unit="articles")

                try:
                    report = self.engine.ingest(saved, progress=tick, prune=True)
                except Exception as exc:
                    log.exception("ingesting uploads failed")
                    for dest in saved:
                        self._restore(dest, backups.get(dest))
                    lines.append(ResultLine("error", f"The articles could not be added: {one_sentence(exc, 'adding the articles')}"))
                    return render_result_lines(lines), self.articles_html(), None
                refused = len(lines)  # type/size/save problems found before ingesting
                lines.extend(report_lines(report, names))
                # A file that yielded nothing usable is not kept (or its previous version comes back),
                # so it does not fail every later full ingest of the corpus folder.
                for dest in saved:
                    items = [i for i in report.items if _resolved(i.path.rsplit(":", 1)[0] if _looks_like_line_ref(i.path) else i.path) == _resolved(str(dest))]
                    if items and all(i.status == "error" for i in items):
                        self._restore(dest, backups.get(dest))
                summary = "Added {a}, updated {u}, skipped {s}, removed {r}, failed {e}.".format(
                    a=report.count("added"), u=report.count("updated"), s=report.count("skipped"), r=report.count("removed"),
                    e=report.count("error") + refused,
                )
                return render_result_lines(lines, summary), self.articles_html(), None
            return render_result_lines(lines or [ResultLine("error", "No file was received.")]), self.articles_html(), None
        except Exception as exc:  # pragma: no cover - defensive
            log.exception("upload failed")
            lines.append(ResultLine("error", one_sentence(exc, "adding the articles")))
            return render_result_lines(lines), self.articles_html(), None
        finally:
            shutil.rmtree(backup_dir, ignore_errors=True)

    @staticmethod
    def _restore(dest: Path, backup: Path | None) -> None:
        try:
            if backup is None:
                dest.unlink(missing_ok=True)
            else:
                shutil.copyfile(backup, dest)
        except OSError:
            log.warning("could not restore %s", dest)

    def delete_article(self, article_id: str):
        article_id = str(article_id or "")
        try:
            title = next((a.title for a in self.engine.articles() if a.id == article_id), article_id)
            if self.engine.delete_article(article_id):
                line = ResultLine("removed", f"“{title}” was removed from the index.")
            else:
                line = ResultLine("error", f"There is no article {article_id!r} in the index.")
        except Exception as exc:
            log.exception("deleting %r failed", article_id)
            line = ResultLine("error", one_sentence(exc, "deleting the article"))
        return render_result_lines([line]), self.articles_html()


def build_app(engine: "Engine") -> "gr.Blocks":
    """The chat page, the articles tab and the settings panel, bound to `engine`."""
    import gradio as gr

    h = _Handlers(engine)
    s = engine.settings
    with gr.Blocks(title="Byline", analytics_enabled=False) as app:
        exchanges = gr.State([])
        gr.HTML(
            '<div class="byline-header"><h1 style="margin:0">Byline</h1>'
            '<p class="byline-muted" style="margin:2px 0 0">Answers from your news articles, with citations.</p></div>',
            js_on_load=None,
        )
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3, min_width=360):
                        conversation = gr.HTML(
                            render_conversation([]),
                            elem_id="byline-chat",
                            js_on_load=_asset("chat.js"),
                            head=f"<style>{_asset('byline.css')}</style>",
                            max_height=640,
                            min_height=240,
                            autoscroll=False,  # chat.js follows a new question itself and leaves a reader who scrolled up alone
                            container=True,
                            padding=True,
                        )
                        with gr.Row():
                            question = gr.Textbox(
                                placeholder="Ask about the articles…",
                                show_label=False,
                                lines=1,
                                max_lines=4,
                                scale=8,
                                elem_id="byline-question",
                                max_length=s.max_question_chars,
                                autofocus=True,
                            )
                            ask_btn = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="byline-ask")
                        with gr.Row():
                            example_btns = [
                                gr.Button(q, size="sm", variant="secondary", elem_classes=["byline-example"]) for q in EXAMPLES
                            ]
                        clear_btn = gr.Button("Clear conversation", size="sm", variant="secondary", elem_id="byline-clear")
                    with gr.Column(scale=1, min_width=260):
                        with gr.Accordion("Settings", open=True, elem_id="byline-settings"):
                            backend = gr.Radio(BACKEND_CHOICES, value=s.backend, label="Answer with", elem_id="byline-backend")
                            base_url = gr.Textbox(
                                value=s.base_url or "",
                                label="Base URL (OpenAI-compatible)",
                                placeholder="http://127.0.0.1:11434/v1",
                                visible=s.backend == "openai-compatible",
                            )
                            model = gr.Textbox(
                                value=s.model or "",
                                label="Model",
                                placeholder="llama3.2 / gpt-4o-mini",
                                visible=s.backend in ("openai", "openai-compatible"),
                            )
                            api_key = gr.Textbox(
                                value="",
                                type="password",
                                label="API key",
                                placeholder="set on the server" if s.effective_api_key() else "sk-…",
                                visible=s.backend in ("openai", "openai-compatible"),
                            )
                            top_k = gr.Slider(1, 10, value=s.top_k, step=1, label="Number of sources", elem_id="byline-top-k")
            with gr.Tab("Articles", id="articles"):
                upload = gr.File(
                    label=f"Add articles (.md, .txt, .html, .jsonl; up to {s.max_upload_mb} MB each)",
                    file_count="multiple",
                    type="filepath",
                    elem_id="byline-upload",
                )
                upload_result = gr.HTML("", elem_id="byline-upload-result", js_on_load=None)
                refresh_btn = gr.Button("Refresh list", size="sm", variant="secondary", scale=0, min_width=140)
                # Filled on page load (app.load below): building the page must not wait for the index.
                articles = gr.HTML(
                    '<p class="byline-muted">Loading the article list…</p>',
                    elem_id="byline-articles",
                    js_on_load=_asset("articles.js"),
                )

        settings_inputs = [backend, base_url, model, api_key, top_k]
        chat_io = dict(inputs=[question, exchanges, *settings_inputs], outputs=[conversation, exchanges, question], show_progress="hidden")
        # One listener for Enter and the button, so a second press while answering is ignored
        # (trigger_mode "once") instead of racing on this session's conversation.
        gr.on([question.submit, ask_btn.click], h.ask, api_name="ask", trigger_mode="once", **chat_io)
        for btn, q in zip(example_btns, EXAMPLES):
            btn.click(lambda q=q: q, outputs=question, queue=False, api_visibility="private").then(
                h.ask, api_visibility="private", **chat_io
            )
        clear_btn.click(h.clear, outputs=[conversation, exchanges, question], queue=False, api_visibility="private")

        def show_backend_fields(choice):
            remote = choice in ("openai", "openai-compatible")
            return (
                gr.update(visible=choice == "openai-compatible"),
                gr.update(visible=remote),
                gr.update(visible=remote),
            )

        backend.change(show_backend_fields, backend, [base_url, model, api_key], queue=False, api_visibility="private")

        def add_articles(files, progress=gr.Progress()):
            return h.add_articles(files, progress)

        upload.upload(
            add_articles,
            inputs=upload,
            outputs=[upload_result, articles, upload],
            api_name="add_articles",
            concurrency_limit=1,
            concurrency_id="corpus",
        )

        def delete_article(evt):
            data = getattr(evt, "_data", None) or {}
            return h.delete_article(data.get("id", "") if isinstance(data, dict) else "")

        # Gradio finds the EventData parameter by its annotation; with postponed annotations
        # (`from __future__ import annotations`) it must be the class itself, not a string.
        delete_article.__annotations__ = {"evt": gr.EventData}

        articles.delete_article(
            delete_article, outputs=[upload_result, articles], concurrency_limit=1, concurrency_id="corpus", api_visibility="private"
        )
        def give_feedback(exchanges, backend, evt):
            return h.feedback(exchanges, backend, evt)

        give_feedback.__annotations__ = {"evt": gr.EventData}
        conversation.feedback(give_feedback, inputs=[exchanges, backend], outputs=[conversation, exchanges], api_visibility="private", queue=False)
        refresh_btn.click(h.articles_html, outputs=articles, api_visibility="private")
        app.load(h.articles_html, outputs=articles, api_visibility="private")
    return app


def launch(app: "gr.Blocks", engine: "Engine", *, host: str | None = None, port: int | None = None, block: bool = False, quiet: bool = True):
    """Queue and launch `app` with the engine's settings; returns (app, local_url).

    `block=False` returns once the server is up (tests, benchmarks); the caller closes the app.
    """
    s = engine.settings
    app.queue(default_concurrency_limit=s.concurrency)
    _, url, _ = app.launch(
        server_name=host or s.host,
        server_port=port or s.port,
        share=False,
        show_error=False,
        prevent_thread_lock=not block,
        quiet=quiet,
        inbrowser=False,
        # The browser refuses bigger files before sending them ("File(s) exceed the maximum allowed
        # size of 20.0 Mb"); the upload handler checks again for API clients.
        max_file_size=f"{s.max_upload_mb}mb",
    )
    # The OpenAI-compatible API on the same host and port (Gradio serves no catch-all route, so
    # routes added to its FastAPI app now are matched like its own).
    from byline.api import add_routes

    add_routes(app.server_app, engine)
    return app, url


def close_app(app: "gr.Blocks") -> None:
    """Stop a launched app and free its port, safely from any thread.

    Gradio's `Blocks.close()` calls `asyncio.Event.set()` on the server's stop event from the
    calling thread while the server's loop may be iterating that event's waiters; CI once failed
    on it ("deque mutated during iteration"). Setting the events on their own loop first makes
    close()'s own set() a no-op."""
    import asyncio

    served = [getattr(app, name, None) for name in ("app", "server_app")]  # queue() may rebind `app`
    events = {id(a.stop_event): a.stop_event for a in served if getattr(a, "stop_event", None) is not None}
    for event in events.values():
        loop = getattr(event, "_loop", None)  # bound by the first wait(); None if nothing waits
        if loop is not None and loop.is_running() and not event.is_set():

            async def _set(ev=event):
                ev.set()

            try:
                asyncio.run_coroutine_threadsafe(_set(), loop).result(timeout=5)
            except Exception:  # the loop stopped meanwhile: close() below still frees the port
                pass
    app.close()


def serve(engine: "Engine", err_console) -> int:
    """Start the web chat on settings.host:port, print the URL, block until Ctrl+C; 0 when stopped.

    The page is served first; the models load (the local model server starts) and the index opens
    in a background thread after: loading them alongside Gradio's import only fought it for the
    CPU (local backend: page after 5.4 s instead of 3.9 s). A question asked in that second or two
    waits for them: the engine builds each component once, under its lock."""
    from rich.markup import escape

    s = engine.settings
    app = build_app(engine)
    try:
        _, url = launch(app, engine)
    except OSError as exc:
        err_console.print(f"[red]Cannot start the web chat on {escape(s.host)}:{s.port}: {escape(str(exc).splitlines()[0])}[/red]")
        return 1
    threading.Thread(target=_warm_up_quietly, args=(engine, err_console), daemon=True, name="byline-warm-up").start()
    err_console.print(f"Byline is running at [bold]{escape(url)}[/bold] — press Ctrl+C to stop.")
    err_console.print(f"OpenAI-compatible API: {escape(url.rstrip('/'))}/v1 (model 'byline')" + ("" if s.serve_api_key else ", no key required"))
    if not _is_loopback(s.host) and not s.serve_api_key:
        err_console.print(f"[yellow]Warning: listening on {escape(s.host)} without an API key: anyone who can reach this machine can query the articles. Set BYLINE_SERVE_API_KEY.[/yellow]")
    try:
        while app.is_running:
            time.sleep(0.2)
    except KeyboardInterrupt:
        err_console.print("Stopping.")
    finally:
        close_app(app)
    return 0


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _warm_up_quietly(engine: "Engine", err_console) -> None:
    from rich.markup import escape

    t0 = time.perf_counter()
    try:
        engine.start_local_model()
        engine.ensure_index()  # the index folder exists but is empty: fill it from the corpus
        engine.warm_up()
        err_console.print(f"Models loaded in {time.perf_counter() - t0:.1f} s.")
    except Exception as exc:  # the first question reports it again
        log.exception("warm-up failed")
        err_console.print(f"[yellow]{escape(one_sentence(exc, 'loading the models'))}[/yellow]")
