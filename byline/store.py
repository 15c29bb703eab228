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
import threading
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from byline.bm25_index import BM25Index
from byline.dated_vectors import DatedVectors
from byline.config import Settings
from byline.dates import published_day_field
from byline.types import Article, ArticleInfo, Passage

_PAGE = 2000
VERSION_KEY = "content_version"
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
        self._bm25: BM25Index | None = None
        self._bm25_version = ""
        self._version_cache: str | None = None
        self._token_failed = False  # the content token could not be written (see _set_version)
        self._days: dict[str, int] = {}  # article id → publication day, kept with the BM25 index
        self._dated: DatedVectors | None = None
        self._dated_version = ""
        try:
            self._client = _client(settings)
            name = settings.collection
            self.passages = self._client.get_or_create_collection(
                f"{name}-passages",
                embedding_function=None,
                metadata={"hnsw:space": "cosine", "embedder": embed_identity["embedder"], "dim": embed_identity["dim"], "format": FORMAT},
            )
            self.articles_col = self._client.get_or_create_collection(f"{name}-articles", embedding_function=None)
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
        manifest (issue #16: the manifest read grew as 1.5 × the passages). An index written before
        the token existed gets one from its manifest, once."""
        if self._version_cache is None:
            token = None if self._token_failed else (self.articles_col.metadata or {}).get(VERSION_KEY)
            if not token:
                h = hashlib.sha256()
                for aid, entry in sorted(self.manifest().items()):
                    h.update(f"{aid}\x00{entry.content_hash}\n".encode())
                token = h.hexdigest()[:16]
                if not self._token_failed:
                    self._set_version(token)
            self._version_cache = token
        return self._version_cache

    def _bump_version(self) -> None:
        """A new content token. Set before a write and again after it: a crash between the two
        leaves a token no BM25 cache was built for as complete content, and a cache built from a
        half-written store is superseded by the second."""
        import uuid

        self._set_version(uuid.uuid4().hex[:16])

    def _set_version(self, token: str) -> None:
        try:
            self.articles_col.modify(metadata={**(self.articles_col.metadata or {}), VERSION_KEY: token})
        except Exception:
            # A server that refuses the write: the token it holds no longer says what the content
            # is, so this process hashes the manifest from now on.
            self._token_failed = True
            token = ""
        self._version_cache = token or None

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
            self._bump_version()
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
                    }
                    for a, ps, _ in batch
                ],
            )
            self._bump_version()

    def remove(self, article_ids: list[str]) -> None:
        if not article_ids:
            return
        with self._lock:
            self._bump_version()
            self.articles_col.delete(ids=article_ids)
            self.passages.delete(where={"article_id": {"$in": list(article_ids)}})
            self._bump_version()

    def sweep_orphans(self) -> int:
        """Delete vectors whose article is not in the manifest (left by a crash mid-ingest)."""
        known = set(self.manifest())
        orphans = [pid for ids, _ in self._pages(self.passages, include=[]) for pid in ids if pid.rsplit("#", 1)[0] not in known]
        for start in range(0, len(orphans), _PAGE):
            self.passages.delete(ids=orphans[start : start + _PAGE])
        return len(orphans)

    # --- reads ---------------------------------------------------------------------------------
    def vector_search(self, embedding: list[float], k: int, published_range: tuple[int, int] | None = None) -> list[tuple[str, float]]:
        """Nearest passages with a vector; `published_range` (ordinal days, inclusive) filters by date."""
        # A direct query: the answer path must not pay llama-index's import time.
        n = min(k, self.passages.count())
        if n == 0:
            return []
        if published_range:
            # Exact, over the window's slice of the day-sorted vectors (dated_vectors.py says why).
            return self.dated_vectors().search(embedding, n, published_range)
        got = self.passages.query(query_embeddings=[embedding], n_results=n, include=["distances"])
        return [(pid, 1.0 - float(d)) for pid, d in zip(got["ids"][0], got["distances"][0])]

    def dated_vectors(self) -> DatedVectors:
        """The stored vectors of dated passages, sorted by publication day; kept beside the BM25
        cache of the same content version, and read from Chroma when that has none."""
        self.bm25()  # the cache folder of the current content
        with self._lock:
            version = self._bm25_version
            if self._dated is not None and self._dated_version == version:
                return self._dated
            folder = self._bm25_dir(version) / "vectors"
            dated = DatedVectors.load(folder) or self._build_dated(folder)
            self._dated, self._dated_version = dated, version
            return dated

    def _build_dated(self, folder: Path) -> DatedVectors:
        """Read every dated vector from Chroma, sorted by day, and keep them in `folder`."""
        rows = [
            (pid, int(meta["published_day"]), vector)
            for ids, vectors, metas in self._pages(self.passages, include=["embeddings", "metadatas"], also="embeddings")
            for pid, vector, meta in zip(ids, vectors, metas)
            if (meta or {}).get("published_day") is not None
        ]
        dated = DatedVectors.build(rows)
        dated.save(folder)
        return dated

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
        """Article id → publication day (ordinal), for articles with a known date (kept with the BM25
        index of the same content version, so reading them costs no manifest read)."""
        self.bm25()
        return self._days

    def _articles(self, article_ids: list[str]):
        if not article_ids:
            return
        got = self.articles_col.get(ids=article_ids, include=["documents", "metadatas"])
        yield from zip(got["ids"], got["documents"], got["metadatas"])

    def bm25(self) -> BM25Index:
        """The keyword index for the current content, loaded from the local cache or rebuilt."""
        version = self.version()
        with self._lock:
            if self._bm25 is not None and self._bm25_version == version:
                return self._bm25
            folder = self._bm25_dir(version)
            index = BM25Index.load(folder) if folder.exists() else None
            days = _load_days(folder) if index is not None else None
            if index is None or days is None:
                ids, texts, days = [], [], {}
                for page_ids, docs, metas in self._pages(self.articles_col, include=["documents", "metadatas"], also="documents", page=200):
                    for aid, doc, meta in zip(page_ids, docs, metas):
                        if meta.get("published_day") is not None:
                            days[aid] = int(meta["published_day"])
                        for p in _passages_of(aid, doc, meta):
                            ids.append(p.id)
                            texts.append(f"{p.title}\n{p.text}")
                index = BM25Index.build(ids, texts)
                index.save(folder, extra={DAYS_FILE: days})
                # Built with the keyword index, so the first dated question after a change (or on
                # a new machine) does not pay for it.
                self._dated, self._dated_version = self._build_dated(folder / "vectors"), version
                for old in folder.parent.glob(f"{self.settings.collection}-*"):
                    if old != folder and old.is_dir():
                        import shutil

                        shutil.rmtree(old, ignore_errors=True)
            self._days = days
            self._bm25, self._bm25_version = index, version
            return index

    def _bm25_dir(self, version: str) -> Path:
        where = hashlib.sha256(self.location.encode()).hexdigest()[:8]
        return Path(self.settings.index_dir) / "bm25" / where / f"{self.settings.collection}-{version}"

    def _pages(self, collection, include: list, also: str = "", page: int = _PAGE):
        """(ids, metadatas) of every record, a page at a time; (ids, <also>, metadatas) when `also`
        names one more included field ("documents", "embeddings")."""
        offset = 0
        while True:
            got = collection.get(include=include, limit=page, offset=offset)
            if not len(got["ids"]):
                return
            metas = got.get("metadatas") or [{}] * len(got["ids"])
            if also:
                yield got["ids"], got[also], metas
            else:
                yield got["ids"], metas
            offset += len(got["ids"])

    def close(self) -> None:
        self._bm25 = None


DAYS_FILE = "published_days.json"


def _load_days(folder: Path) -> dict[str, int] | None:
    try:
        return {k: int(v) for k, v in json.loads((folder / DAYS_FILE).read_text()).items()}
    except (OSError, ValueError, AttributeError):
        return None


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
