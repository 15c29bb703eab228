"""Read articles from files and folders: Markdown/text with optional front matter, HTML, JSONL dumps.

Every file either yields articles or one clear error line; a bad file never stops the others.
Large JSONL dumps are streamed line by line so memory stays flat.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from byline.cleaning import clean_text
from byline.types import Article

TEXT_SUFFIXES = {".md", ".markdown", ".txt"}
HTML_SUFFIXES = {".html", ".htm"}
JSONL_SUFFIXES = {".jsonl"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | JSONL_SUFFIXES
_ID_RE = re.compile(r"[^A-Za-z0-9_.-]+")


class CorpusError(Exception):
    """The corpus cannot be read at all (missing folder, nothing given)."""


@dataclass
class ReadError:
    path: str  # the file
    reason: str
    article_id: str = ""
    line: int = 0  # for JSONL: the line at fault

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path


def iter_files(paths: list[Path]) -> Iterator[Path | ReadError]:
    for root in paths:
        if not root.exists():
            raise CorpusError(f"{root}: no such file or folder")
        if root.is_file():
            yield root
            continue
        for path in sorted(root.rglob("*")):
            if path.is_file() and not any(part.startswith(".") for part in path.relative_to(root).parts):
                if path.suffix.lower() in SUPPORTED_SUFFIXES:
                    yield path
                else:
                    yield ReadError(str(path), f"unsupported file type {path.suffix or '(none)'}; use .md, .txt, .html or .jsonl")


def read_articles(paths: list[Path]) -> Iterator[Article | ReadError]:
    """Articles from the given files/folders, in a stable order, with errors in between."""
    for item in iter_files(paths):
        if isinstance(item, ReadError):
            yield item
            continue
        yield from read_file(item)


def read_file(path: Path) -> Iterator[Article | ReadError]:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        yield ReadError(str(path), f"unsupported file type {suffix or '(none)'}; use .md, .txt, .html or .jsonl")
        return
    try:
        if suffix in JSONL_SUFFIXES:
            yield from _read_jsonl(path)
            return
        raw = path.read_bytes()
    except OSError as exc:
        yield ReadError(str(path), f"cannot be read: {exc.strerror or exc}")
        return
    text = _decode(path, raw)
    if isinstance(text, ReadError):
        yield text
        return
    try:
        article = _read_html(path, text) if suffix in HTML_SUFFIXES else _read_text(path, text)
    except ValueError as exc:
        yield ReadError(str(path), str(exc))
        return
    yield article


def _decode(path: Path, raw: bytes) -> str | ReadError:
    if not raw.strip():
        return ReadError(str(path), "empty file")
    if b"\x00" in raw[:8192]:
        return ReadError(str(path), "binary file, not text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return ReadError(str(path), f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at position {exc.start}); save it as UTF-8")


def _read_text(path: Path, text: str) -> Article:
    import frontmatter
    import yaml

    meta: dict = {}
    body = text
    if text.lstrip().startswith("---"):
        try:
            post = frontmatter.loads(text)
        except (yaml.YAMLError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ValueError(f"broken front matter: {first}") from exc
        if not isinstance(post.metadata, dict):
            raise ValueError("broken front matter: expected key: value pairs")
        meta, body = dict(post.metadata), post.content
    title = _str(meta.get("title"))
    if not title:
        first_line, _, rest = body.strip().partition("\n")
        title, body = first_line.strip().lstrip("# ").strip(), rest
    return _make_article(meta, title, body, path, default_id=path.stem)


def _read_html(path: Path, html: str) -> Article:
    import trafilatura

    extracted = trafilatura.bare_extraction(html, with_metadata=True, include_comments=False, include_tables=True)
    doc = extracted.as_dict() if extracted is not None and hasattr(extracted, "as_dict") else extracted
    if not doc or not (doc.get("text") or "").strip():
        raise ValueError("no article text found in the HTML")
    meta = {"url": doc.get("url"), "published": doc.get("date"), "source": doc.get("sitename") or doc.get("hostname"), "authors": doc.get("author")}
    return _make_article(meta, _str(doc.get("title")) or path.stem, doc["text"], path, default_id=path.stem)


def _read_jsonl(path: Path) -> Iterator[Article | ReadError]:
    seen: set[str] = set()
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError:
                yield ReadError(str(path), "line is not UTF-8 text", line=lineno)
                continue
            except json.JSONDecodeError as exc:
                yield ReadError(str(path), f"not valid JSON ({exc.msg})", line=lineno)
                continue
            if not isinstance(record, dict) or not isinstance(record.get("text"), str) or not record["text"].strip():
                yield ReadError(str(path), "expected an object with a non-empty \"text\"", line=lineno)
                continue
            default_id = f"{path.stem}-{lineno}"
            try:
                article = _make_article(record, _str(record.get("title")), record["text"], path, default_id=default_id)
            except ValueError as exc:
                yield ReadError(str(path), str(exc), line=lineno)
                continue
            if article.id in seen:
                yield ReadError(str(path), f"duplicate id {article.id!r} in this file", article.id, lineno)
                continue
            seen.add(article.id)
            yield article


def _make_article(meta: dict, title: str, body: str, path: Path, default_id: str) -> Article:
    article_id = _ID_RE.sub("_", _str(meta.get("id")) or default_id).strip("_")
    if not article_id:
        raise ValueError("article has no usable id")
    text = clean_text(body)
    if not text:
        raise ValueError("no article text left after removing page boilerplate")
    authors = meta.get("authors") or []
    if isinstance(authors, str):
        authors = [a.strip() for a in re.split(r";|,| and ", authors) if a.strip()]
    return Article(
        id=article_id,
        title=clean_text(title) or article_id,
        text=text,
        source=_str(meta.get("source")),
        url=_str(meta.get("url")),
        published=_date(meta.get("published") or meta.get("date")),
        authors=[str(a) for a in authors if a],
        path=str(path.resolve()),
    )


def _str(value) -> str:
    return "" if value is None else str(value).strip()


def _date(value) -> str:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = _str(value)
    m = re.match(r"(\d{4}-\d{2}-\d{2})", text)
    return m.group(1) if m else text
