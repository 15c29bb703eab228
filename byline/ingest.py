"""Corpus → passages → vectors → store, incrementally.

Unchanged articles (same content hash) are skipped, changed ones replaced, and articles that
disappeared from the ingested files or folders removed. Work is streamed in batches so memory
stays flat on large dumps; a crash mid-run is completed by the next run (see store.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from byline.chunking import split_article
from byline.config import Settings
from byline.corpus import ReadError, SUPPORTED_SUFFIXES, iter_files, read_file
from byline.file_records import fingerprint, members_hash
from byline.store import Store
from byline.types import Article, IngestItem, IngestReport

Progress = Callable[[int, int, str], None]  # (articles done, estimated total, current title)


def embedded_passages(passages: list, settings: Settings) -> list:
    """The passages of one article that get a vector: the leading `vector_passages` (0 = all)."""
    return passages[: settings.vector_passages or None]


def estimate_articles(paths: list[Path]) -> int:
    total = 0
    for root in paths:
        files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()] if root.is_dir() else []
        for f in files:
            if f.suffix.lower() == ".jsonl":
                with f.open("rb") as fh:
                    total += sum(1 for line in fh if line.strip())
            elif f.suffix.lower() in SUPPORTED_SUFFIXES:
                total += 1
    return total


def ingest(
    paths: list[Path],
    store: Store,
    embedding,
    settings: Settings,
    progress: Progress | None = None,
    prune: bool = True,
    on_stored: Callable[[int], None] | None = None,
) -> IngestReport:
    """Bring the index in line with `paths`; `on_stored(n)` is called after each batch is committed."""
    started = time.perf_counter()
    report = IngestReport()
    manifest = store.manifest()
    store.sweep_orphans(manifest)
    records = store.file_records()
    by_file: dict[str, list[str]] = {}
    for aid, entry in manifest.items():
        by_file.setdefault(entry.info.path, []).append(aid)
    read_in_full: dict[str, tuple[str, str]] = {}  # files read without an error: recorded at the end
    total = estimate_articles(paths) if progress else 0
    seen: dict[str, str] = {}
    unreadable: set[str] = set()  # files with errors: what they held before stays indexed
    pending: list[tuple[Article, list]] = []
    pending_passages = 0
    done = 0
    stored_articles = [0]

    def flush() -> None:
        nonlocal pending, pending_passages
        if not pending:
            return
        texts = [f"{p.title}\n{p.text}" for _, passages in pending for p in embedded_passages(passages, settings)]
        vectors = embedding.embed_texts(texts) if texts else []
        batch, offset = [], 0
        for article, passages in pending:
            n = len(embedded_passages(passages, settings))
            batch.append((article, passages, vectors[offset : offset + n]))
            offset += n
        store.replace(batch)
        report.passages_added += sum(len(passages) for _, passages in pending)
        report.passages_embedded += len(texts)
        stored_articles[0] += len(batch)
        if on_stored:
            on_stored(stored_articles[0])
        pending, pending_passages = [], 0

    def take(item) -> bool:
        """One article (or error) read from a file; False when the file cannot be vouched for."""
        nonlocal done, pending_passages
        done += 1
        if isinstance(item, ReadError):
            report.items.append(IngestItem(item.where, item.article_id, "error", item.reason))
            unreadable.add(str(Path(item.path).resolve()))
            if item.article_id:
                seen.setdefault(item.article_id, item.path)  # a broken duplicate must not delete the good copy
            _tick(progress, done, total, item.path)
            return False
        article = item
        if article.id in seen:
            report.items.append(IngestItem(article.path, article.id, "error", f"duplicate article id {article.id!r} (also in {seen[article.id]})", article.title))
            return False
        seen[article.id] = article.path
        old = manifest.get(article.id)
        if old and old.content_hash == article.content_hash:
            report.items.append(IngestItem(article.path, article.id, "skipped", "unchanged", article.title))
        else:
            passages = split_article(article, settings.chunk_tokens, settings.chunk_overlap_sentences, embedding.count_tokens)
            if not passages:
                report.items.append(IngestItem(article.path, article.id, "error", "no sentences found", article.title))
                return False
            pending.append((article, passages))
            pending_passages += len(embedded_passages(passages, settings))
            report.items.append(IngestItem(article.path, article.id, "updated" if old else "added", "changed" if old else "", article.title))
            if pending_passages >= settings.ingest_batch_passages:
                flush()
        _tick(progress, done, total, article.title)
        return True

    for path in iter_files(paths):
        if isinstance(path, ReadError):
            take(path)
            continue
        resolved = str(path.resolve())
        fp = fingerprint(path)
        held = by_file.get(resolved, [])
        if fp and held and records.get(resolved) == (fp, members_hash((aid, manifest[aid].content_hash) for aid in held)) and not any(aid in seen for aid in held):
            for aid in held:  # unchanged since it was last read in full, and the index still holds what it gave
                done += 1
                seen[aid] = resolved
                report.items.append(IngestItem(resolved, aid, "skipped", "unchanged", manifest[aid].info.title))
            _tick(progress, done, total, path.name)
            continue
        members, whole = [], True
        for item in read_file(path):
            whole = take(item) and whole
            if not isinstance(item, ReadError):
                members.append((item.id, item.content_hash))
        if fp and whole and members:
            read_in_full[resolved] = (fp, members_hash(members))
    flush()

    if prune:
        roots = [p.resolve() for p in paths]
        gone = [
            aid
            for aid, entry in manifest.items()
            if aid not in seen and _under(entry.info.path, roots) and str(Path(entry.info.path).resolve()) not in unreadable
        ]
        store.remove(gone)
        for aid in gone:
            report.items.append(IngestItem(manifest[aid].info.path, aid, "removed", "no longer in the corpus", manifest[aid].info.title))
    store.record_files(read_in_full)  # after every article they gave is stored
    report.seconds = time.perf_counter() - started
    return report


def _under(path: str, roots: list[Path]) -> bool:
    if not path:
        return False
    p = Path(path).resolve()
    return any(p == r or r in p.parents for r in roots)


def _tick(progress: Progress | None, done: int, total: int, label: str) -> None:
    if progress:
        progress(done, max(total, done), label)
