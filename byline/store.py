"""The index, in two Chroma collections plus a derived BM25 index on local disk:

- `<name>-articles` (the manifest): one record per article holding its cleaned text, its passage
  spans, its content hash and metadata. Every passage can be rebuilt from it, exactly.
- `<name>-passages`: vectors for the leading `vector_passages` passages of each article (written
  through llama-index's ChromaVectorStore). Embedding is what ingest spends its time on, and on
  news the lead carries what the vector side adds; BM25 covers every word of every passage.

Crash safety (an ingest killed at any instant): an article's manifest entry is removed before its
passages are touched and written only after all its passages are stored, so an article whose entry
is missing is simply re-done by the next ingest, and passage ids are deterministic, so re-doing
never duplicates. Vectors left behind by a crash are swept on the next ingest.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from byline import period_index as periods
from byline.period_index import UNDATED, PeriodIndex, merged, period_of, periods_for
from byline.config import Settings
from byline.dates import published_day, published_day_field
from byline.types import Article, ArticleInfo, Passage

_PAGE = 2000
VERSION_KEY = "content_version"
TOKEN_PREFIX = "bm25:"  # + period: that period's content token (period_index.py)
PERIODS_KEY = "periods"  # the period granularity the tokens (and the undated records' tags) were written for
FORMAT = 2  # bumped when the layout changes; an older index is rebuilt, never misread


class IndexError_(RuntimeError):
    """The index cannot be used: unreadable, or built with another embedder."""


@dataclass
class ManifestEntry:
    info: ArticleInfo
    content_hash: str
    published_day: int | None = None


class Store:
    def __init__(self, settings: Settings, embed_identity: dict):
        self.settings = settings
        self.identity = embed_identity
        self._lock = threading.RLock()
        self._version_cache: str | None = None
        self._tokens_cache: dict[str, str] | None = None  # period → its content token
        self._token_failed = False  # the content token could not be written (see _set_tokens)
        self._periods: dict[str, tuple[str, PeriodIndex]] = {}  # period → (token, its search data)
        try:
            self._client = _client(settings)
            name = settings.collection
            self.passages = self._client.get_or_create_collection(
                f"{name}-passages",
                embedding_function=None,
                metadata={"hnsw:space": "cosine", "embedder": embed_identity["embedder"], "dim": embed_identity["dim"], "format": FORMAT},
            )
            self.articles_col = self._client.get_or_create_collection(f"{name}-articles", embedding_function=None)
            self.files_col = self._client.get_or_create_collection(f"{name}-files", embedding_function=None)
        except IndexError_:
            raise
        except Exception as exc:  # chromadb raises many types for a damaged or unreachable store
            raise IndexError_(
                f"The index at {self.location} cannot be opened ({type(exc).__name__}: {_first_line(exc)}). "
                f"Rebuild it with `python app.py ingest --rebuild`."
            ) from exc
        self._check_identity()
        self._vector_store = None

    @property
    def vector_store(self):
        """llama-index's ChromaVectorStore over the passages collection (imported only for writes)."""
        if self._vector_store is None:
            from llama_index.vector_stores.chroma import ChromaVectorStore

            self._vector_store = ChromaVectorStore(chroma_collection=self.passages)
        return self._vector_store

    @property
    def location(self) -> str:
        return self.settings.chroma_url or str(self.settings.index_dir)

    def _check_identity(self) -> None:
        meta = self.passages.metadata or {}
        if meta.get("format") != FORMAT:
            raise IndexError_(
                f"The index at {self.location} was written by an older Byline (format {meta.get('format', 1)}, "
                f"this one reads {FORMAT}). Rebuild it with `python app.py ingest --rebuild`."
            )
        built = (meta.get("embedder"), meta.get("dim"))
        wanted = (self.identity["embedder"], self.identity["dim"])
        if built != wanted:
            raise IndexError_(
                f"The index at {self.location} was built with embedder {built[0]!r} ({built[1]} dimensions), "
                f"but the settings ask for {wanted[0]!r} ({wanted[1]} dimensions). Rebuild it with "
                f"`python app.py ingest --rebuild --embedder {self.settings.embedder}`, or switch back to {built[0]!r}."
            )

    # --- manifest ------------------------------------------------------------------------------
    def manifest(self) -> dict[str, ManifestEntry]:
        out: dict[str, ManifestEntry] = {}
        for ids, metas in self._pages(self.articles_col, include=["metadatas"]):
            for aid, m in zip(ids, metas):
                out[aid] = ManifestEntry(
                    ArticleInfo(aid, m.get("title", ""), m.get("source", ""), m.get("url", ""), m.get("published", ""), int(m.get("passages", 0)), m.get("path", "")),
                    m.get("hash", ""),
                    m.get("published_day"),
                )
        return out

    def version(self) -> str:
        """A fingerprint of the indexed content; changes whenever any article is added, changed or removed.

        It is a token in the articles collection's metadata, replaced around every write, so a new
        process (or a second machine on a Chroma server) reads one record instead of the whole
        manifest (issue #16: the manifest read grew as 1.5 × the passages). The same record holds
        each publication period's token (period_index.py). An index written before the tokens
        existed gets them from its manifest, once."""
        self._tokens()
        return self._version_cache or ""

    def period_tokens(self) -> dict[str, str]:
        """Publication period → its content token, for every period that holds articles."""
        return dict(self._tokens())

    def _tokens(self) -> dict[str, str]:
        with self._lock:
            if self._tokens_cache is None:
                meta = {} if self._token_failed else (self.articles_col.metadata or {})
                if not self._token_failed and meta.get(VERSION_KEY) and meta.get(PERIODS_KEY) == periods.GRANULARITY:
                    self._version_cache = meta[VERSION_KEY]
                    self._tokens_cache = {k[len(TOKEN_PREFIX) :]: v for k, v in meta.items() if k.startswith(TOKEN_PREFIX) and v}
                else:
                    self._tokens_from_manifest()
            return self._tokens_cache or {}

    def _tokens_from_manifest(self) -> None:
        """Every token hashed from the manifest: for an index written before the tokens (then kept
        in it, with the undated articles tagged so their period can be read alone), or by a
        process whose token writes a server refused."""
        entries = sorted(self.manifest().items())
        whole, by_period = hashlib.sha256(), {}
        for aid, entry in entries:
            line = f"{aid}\x00{entry.content_hash}\n".encode()
            whole.update(line)
            by_period.setdefault(period_of(entry.published_day), hashlib.sha256()).update(line)
        self._version_cache = whole.hexdigest()[:16]
        self._tokens_cache = {p: h.hexdigest()[:16] for p, h in by_period.items()}
        if self._token_failed:
            return
        undated = [aid for aid, entry in entries if entry.published_day is None]
        for start in range(0, len(undated), _PAGE):
            chunk = undated[start : start + _PAGE]
            self.articles_col.update(ids=chunk, metadatas=[{"period": UNDATED}] * len(chunk))
        self._set_tokens(self._version_cache, self._tokens_cache, replace_all=True)

    def _bump_version(self, touched: set[str]) -> None:
        """New tokens for the content and for each touched period. Set before a write and again
        after it: a crash between the two leaves tokens no cache was built for as complete
        content, and a cache built from a half-written store is superseded by the second."""
        import uuid

        tokens = dict(self._tokens())
        tokens.update({p: uuid.uuid4().hex[:16] for p in touched})
        if self._token_failed:
            self._version_cache = self._tokens_cache = None  # hashed again from the manifest when next read
            return
        self._set_tokens(uuid.uuid4().hex[:16], tokens)

    def _set_tokens(self, version: str, tokens: dict[str, str], replace_all: bool = False) -> None:
        old = self.articles_col.metadata or {}
        keep = {k: v for k, v in old.items() if not (replace_all and k.startswith(TOKEN_PREFIX))}
        meta = {**keep, VERSION_KEY: version, PERIODS_KEY: periods.GRANULARITY, **{TOKEN_PREFIX + p: t for p, t in tokens.items()}}
        try:
            self.articles_col.modify(metadata=meta)
        except Exception:
            # A server that refuses the write: the tokens it holds no longer say what the content
            # is, so this process hashes the manifest from now on.
            self._token_failed = True
            self._version_cache = self._tokens_cache = None
            return
        self._version_cache, self._tokens_cache = version, dict(tokens)

    def _periods_of(self, article_ids: list[str]) -> set[str]:
        """The periods these stored articles are in (a replacement touches its old period too)."""
        got = self.articles_col.get(ids=article_ids, include=["metadatas"])
        return {period_of(m.get("published_day")) for m in got["metadatas"] or []}  # stored whenever the date parses

    # --- corpus files (file_records.py) -----------------------------------------------------------
    def file_records(self) -> dict[str, tuple[str, str]]:
        """Corpus file path → (its fingerprint, the hash of the articles it gave) at its last full ingest."""
        out = {}
        for ids, metas in self._pages(self.files_col, include=["metadatas"]):
            for meta in metas:
                if meta and meta.get("path"):
                    out[meta["path"]] = (meta.get("fingerprint", ""), meta.get("members", ""))
        return out

    def record_files(self, records: dict[str, tuple[str, str]]) -> None:
        items = sorted(records.items())
        for start in range(0, len(items), _PAGE):
            chunk = items[start : start + _PAGE]
            self.files_col.upsert(
                ids=[hashlib.sha256(path.encode()).hexdigest()[:32] for path, _ in chunk],
                embeddings=[[1.0]] * len(chunk),
                metadatas=[{"path": path, "fingerprint": fp, "members": members} for path, (fp, members) in chunk],
            )

    def count(self) -> int:
        return self.articles_col.count()

    # --- writes --------------------------------------------------------------------------------
    def replace(self, batch: list[tuple[Article, list[Passage], list[list[float]]]]) -> None:
        """Store these articles' passages, replacing whatever the index held for them."""
        if not batch:
            return
        from llama_index.core.schema import TextNode

        ids = [a.id for a, _, _ in batch]
        with self._lock:
            touched = self._periods_of(ids) | {period_of(published_day(a.published)) for a, _, _ in batch}
            self._bump_version(touched)
            self.articles_col.delete(ids=ids)
            self.passages.delete(where={"article_id": {"$in": ids}})
            nodes = []
            for article, passages, vectors in batch:
                for p, vec in zip(passages, vectors):  # vectors cover the leading passages only
                    node = TextNode(id_=p.id, text=p.text, metadata=p.metadata(), embedding=vec)
                    node.excluded_embed_metadata_keys = list(p.metadata())
                    nodes.append(node)
            if nodes:
                self.vector_store.add(nodes)
            self.articles_col.upsert(
                ids=ids,
                embeddings=[[1.0]] * len(ids),
                documents=[a.text for a, _, _ in batch],
                metadatas=[
                    {
                        "hash": a.content_hash,
                        "title": a.title,
                        "source": a.source,
                        "url": a.url,
                        "published": a.published,
                        "path": a.path,
                        "passages": len(ps),
                        "spans": json.dumps([[p.start, p.end] for p in ps], separators=(",", ":")),
                        **published_day_field(a.published),
                        **({} if published_day(a.published) is not None else {"period": UNDATED}),
                    }
                    for a, ps, _ in batch
                ],
            )
            self._bump_version(touched)

    def remove(self, article_ids: list[str]) -> None:
        if not article_ids:
            return
        with self._lock:
            touched = self._periods_of(list(article_ids))
            self._bump_version(touched)
            self.articles_col.delete(ids=article_ids)
            self.passages.delete(where={"article_id": {"$in": list(article_ids)}})
            self._bump_version(touched)

    def sweep_orphans(self, manifest: dict[str, ManifestEntry] | None = None) -> int:
        """Delete vectors whose article is not in the manifest (left by a crash mid-ingest)."""
        known = set(self.manifest() if manifest is None else manifest)
        orphans = [pid for ids, _ in self._pages(self.passages, include=[]) for pid in ids if pid.rsplit("#", 1)[0] not in known]
        for start in range(0, len(orphans), _PAGE):
            self.passages.delete(ids=orphans[start : start + _PAGE])
        return len(orphans)

    # --- reads ---------------------------------------------------------------------------------
    def vector_search(self, embedding: list[float], k: int, published_range: tuple[int, int] | None = None) -> list[tuple[str, float]]:
        """Nearest passages with a vector; `published_range` (ordinal days, inclusive) filters by date."""
        if published_range:
            # Exact, over the window's slice of each period's day-sorted vectors (dated_vectors.py
            # says why); cosine similarities compare across periods as they are.
            found = [self.period_index(p).vectors.search(embedding, k, published_range) for p in periods_for(published_range, set(self._tokens())) if p != UNDATED]
            return merged(found, k)
        # A direct query: the answer path must not pay llama-index's import time.
        n = min(k, self.passages.count())
        if n == 0:
            return []
        got = self.passages.query(query_embeddings=[embedding], n_results=n, include=["distances"])
        return [(pid, 1.0 - float(d)) for pid, d in zip(got["ids"][0], got["distances"][0])]

    def keyword_search(self, query: str, k: int, published_range: tuple[int, int] | None = None) -> list[tuple[str, float]]:
        """BM25 over the passages of the periods `published_range` touches (every period when None),
        hits outside the range dropped; articles without a date are always searched."""
        found = [self.period_index(p).keyword_search(query, k, published_range) for p in periods_for(published_range, set(self._tokens()))]
        return merged(found, k)

    def warm(self, published_range: tuple[int, int] | None = None) -> list[PeriodIndex]:
        """Load (or build) the search data of the periods a question in this range reads."""
        return [self.period_index(p) for p in periods_for(published_range, set(self._tokens()))]

    def period_index(self, period: str) -> PeriodIndex:
        """One period's BM25 index, publication days and vectors, for its current content: from the
        local cache, or built from Chroma (only this period's articles and vectors are read)."""
        token = self._tokens().get(period, "")
        with self._lock:
            cached = self._periods.get(period)
            if cached is not None and cached[0] == token:
                return cached[1]
            folder = self._cache_dir() / f"{period}-{token}"
            index = PeriodIndex.load(folder, period)
            if index is None:
                index = self._build_period(period)
                index.save(folder)
                for old in folder.parent.glob(f"{period}-*"):
                    if old != folder and old.is_dir():
                        shutil.rmtree(old, ignore_errors=True)
            self._periods[period] = (token, index)
            return index

    def _build_period(self, period: str) -> PeriodIndex:
        span = periods.day_range(period)
        select: dict = {"where": {"period": UNDATED}}
        if span is not None:
            select = {"where": {"$and": [{"published_day": {"$gte": span[0]}}, {"published_day": {"$lte": span[1]}}]}}
        elif self._token_failed:  # the undated tags may not have been written: the manifest says which
            select = {"ids": [aid for aid, e in self.manifest().items() if e.published_day is None]}
        articles = []
        for page_ids, docs, metas in self._pages(self.articles_col, include=["documents", "metadatas"], also="documents", page=200, **select):
            for aid, doc, meta in zip(page_ids, docs, metas):
                passages = [(p.id, f"{p.title}\n{p.text}") for p in _passages_of(aid, doc, meta)]
                articles.append((aid, passages, meta.get("published_day")))
        vectors = []
        if span is not None:
            for ids, embeddings, metas in self._pages(self.passages, include=["embeddings", "metadatas"], also="embeddings", **select):
                vectors.extend((pid, int(m["published_day"]), vec) for pid, vec, m in zip(ids, embeddings, metas))
        return PeriodIndex.build(period, articles, vectors)

    def _cache_dir(self) -> Path:
        where = hashlib.sha256(self.location.encode()).hexdigest()[:8]
        root = Path(self.settings.index_dir) / "bm25" / where
        for legacy in root.glob(f"{self.settings.collection}-*"):  # one whole-archive index, before periods
            if legacy.is_dir():
                shutil.rmtree(legacy, ignore_errors=True)
        return root / self.settings.collection

    def get_passages(self, ids: list[str], whole: Collection[str] = ()) -> dict[str, Passage]:
        """The passages of these ids, and every passage of the articles in `whole` (read in the
        same request: an article's passages are slices of its one stored text)."""
        wanted: dict[str, set[int]] = {aid: set() for aid in whole}
        for pid in ids:
            aid, _, n = pid.rpartition("#")
            if aid and n.isdigit():
                wanted.setdefault(aid, set()).add(int(n))
        out: dict[str, Passage] = {}
        for aid, text, meta in self._articles(list(wanted)):
            for p in _passages_of(aid, text, meta):
                if p.index in wanted[aid] or aid in whole:
                    out[p.id] = p
        return out

    def article_passages(self, article_id: str) -> list[Passage]:
        return [p for aid, text, meta in self._articles([article_id]) for p in _passages_of(aid, text, meta)]

    def published_days(self) -> dict[str, int]:
        """Article id → publication day (ordinal), for articles with a known date (kept with each
        period's search data, so reading them costs no manifest read)."""
        return {aid: day for index in self.warm() for aid, day in index.days.items()}

    def _articles(self, article_ids: list[str]):
        if not article_ids:
            return
        got = self.articles_col.get(ids=article_ids, include=["documents", "metadatas"])
        yield from zip(got["ids"], got["documents"], got["metadatas"])

    def _pages(self, collection, include: list, also: str = "", page: int = _PAGE, where: dict | None = None, ids: list[str] | None = None):
        """(ids, metadatas) of every record (matching `where`, or of `ids`), a page at a time; (ids, <also>,
        metadatas) when `also` names one more included field ("documents", "embeddings")."""
        if ids is not None:  # these records, by id
            for start in range(0, len(ids), page):
                got = collection.get(ids=ids[start : start + page], include=include)
                metas = got.get("metadatas") or [{}] * len(got["ids"])
                yield (got["ids"], got[also], metas) if also else (got["ids"], metas)
            return
        offset = 0
        while True:
            got = collection.get(include=include, limit=page, offset=offset, **({"where": where} if where else {}))
            if not len(got["ids"]):
                return
            metas = got.get("metadatas") or [{}] * len(got["ids"])
            if also:
                yield got["ids"], got[also], metas
            else:
                yield got["ids"], metas
            offset += len(got["ids"])

    def close(self) -> None:
        self._periods = {}


def _passages_of(article_id: str, text: str, meta: dict) -> list[Passage]:
    """An article's passages, rebuilt exactly from its stored text and spans."""
    text = text or ""
    return [
        Passage(
            id=f"{article_id}#{i}",
            article_id=article_id,
            index=i,
            text=text[start:end],
            start=start,
            end=end,
            title=meta.get("title", ""),
            source=meta.get("source", ""),
            url=meta.get("url", ""),
            published=meta.get("published", ""),
        )
        for i, (start, end) in enumerate(json.loads(meta.get("spans") or "[]"))
    ]


def _client(settings: Settings):
    import chromadb

    chroma_settings = chromadb.Settings(anonymized_telemetry=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        if not url.hostname:
            raise IndexError_(f"--chroma-url {settings.chroma_url!r} is not a URL like http://127.0.0.1:8000")
        try:
            return chromadb.HttpClient(host=url.hostname, port=url.port or (443 if url.scheme == "https" else 8000), ssl=url.scheme == "https", settings=chroma_settings)
        except Exception as exc:
            raise IndexError_(f"The Chroma server at {settings.chroma_url} cannot be reached ({_first_line(exc)}).") from exc
    folder = Path(settings.index_dir) / "chroma"
    folder.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(folder), settings=chroma_settings)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def describe_identity(identity: dict) -> str:
    return json.dumps(identity)
