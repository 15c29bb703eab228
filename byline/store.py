"""The index: passages with their vectors in Chroma (through llama-index's ChromaVectorStore), plus
an article manifest in a second Chroma collection, plus a derived BM25 index on local disk.

Crash safety (an ingest killed at any instant): an article's manifest entry is removed before its
passages are touched and written only after all its passages are stored, so an article whose entry
is missing is simply re-done by the next ingest, and passage ids are deterministic, so re-doing
never duplicates. Vectors left behind by a crash are swept on the next ingest.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from byline.bm25_index import BM25Index
from byline.config import Settings
from byline.types import Article, ArticleInfo, Passage

_PAGE = 2000


class IndexError_(RuntimeError):
    """The index cannot be used: unreadable, or built with another embedder."""


@dataclass
class ManifestEntry:
    info: ArticleInfo
    content_hash: str


class Store:
    def __init__(self, settings: Settings, embed_identity: dict):
        self.settings = settings
        self.identity = embed_identity
        self._lock = threading.RLock()
        self._bm25: BM25Index | None = None
        self._bm25_version = ""
        self._version_cache: str | None = None
        try:
            self._client = _client(settings)
            name = settings.collection
            self.passages = self._client.get_or_create_collection(
                f"{name}-passages",
                embedding_function=None,
                metadata={"hnsw:space": "cosine", "embedder": embed_identity["embedder"], "dim": embed_identity["dim"]},
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
                )
        return out

    def version(self) -> str:
        """A fingerprint of the indexed content; changes whenever any article is added, changed or removed."""
        if self._version_cache is None:
            h = hashlib.sha256()
            for aid, entry in sorted(self.manifest().items()):
                h.update(f"{aid}\x00{entry.content_hash}\n".encode())
            self._version_cache = h.hexdigest()[:16]
        return self._version_cache

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
            self._version_cache = None
            self.articles_col.delete(ids=ids)
            self.passages.delete(where={"article_id": {"$in": ids}})
            nodes = []
            for article, passages, vectors in batch:
                for p, vec in zip(passages, vectors):
                    node = TextNode(id_=p.id, text=p.text, metadata=p.metadata(), embedding=vec)
                    node.excluded_embed_metadata_keys = list(p.metadata())
                    nodes.append(node)
            if nodes:
                self.vector_store.add(nodes)
            self.articles_col.upsert(
                ids=ids,
                embeddings=[[1.0]] * len(ids),
                metadatas=[
                    {
                        "hash": a.content_hash,
                        "title": a.title,
                        "source": a.source,
                        "url": a.url,
                        "published": a.published,
                        "path": a.path,
                        "passages": len(ps),
                    }
                    for a, ps, _ in batch
                ],
            )

    def remove(self, article_ids: list[str]) -> None:
        if not article_ids:
            return
        with self._lock:
            self._version_cache = None
            self.articles_col.delete(ids=article_ids)
            self.passages.delete(where={"article_id": {"$in": list(article_ids)}})

    def sweep_orphans(self) -> int:
        """Delete vectors whose article is not in the manifest (left by a crash mid-ingest)."""
        known = set(self.manifest())
        orphans = [pid for ids, _ in self._pages(self.passages, include=[]) for pid in ids if pid.rsplit("#", 1)[0] not in known]
        for start in range(0, len(orphans), _PAGE):
            self.passages.delete(ids=orphans[start : start + _PAGE])
        return len(orphans)

    # --- reads ---------------------------------------------------------------------------------
    def vector_search(self, embedding: list[float], k: int) -> list[tuple[str, float]]:
        # A direct query: the answer path must not pay llama-index's import time.
        n = min(k, self.passages.count())
        if n == 0:
            return []
        got = self.passages.query(query_embeddings=[embedding], n_results=n, include=["distances"])
        return [(pid, 1.0 - float(d)) for pid, d in zip(got["ids"][0], got["distances"][0])]

    def get_passages(self, ids: list[str]) -> dict[str, Passage]:
        if not ids:
            return {}
        got = self.passages.get(ids=list(ids), include=["documents", "metadatas"])
        return {pid: _passage(pid, doc, meta) for pid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"])}

    def article_passages(self, article_id: str) -> list[Passage]:
        got = self.passages.get(where={"article_id": article_id}, include=["documents", "metadatas"])
        return sorted((_passage(pid, d, m) for pid, d, m in zip(got["ids"], got["documents"], got["metadatas"])), key=lambda p: p.index)

    def bm25(self) -> BM25Index:
        """The keyword index for the current content, loaded from the local cache or rebuilt."""
        version = self.version()
        with self._lock:
            if self._bm25 is not None and self._bm25_version == version:
                return self._bm25
            folder = self._bm25_dir(version)
            index = BM25Index.load(folder) if folder.exists() else None
            if index is None:
                ids, texts = [], []
                for page_ids, docs, metas in self._pages(self.passages, include=["documents", "metadatas"], with_docs=True):
                    for pid, doc, meta in zip(page_ids, docs, metas):
                        ids.append(pid)
                        texts.append(f"{meta.get('title', '')}\n{doc}")
                index = BM25Index.build(ids, texts)
                index.save(folder)
                for old in folder.parent.glob(f"{self.settings.collection}-*"):
                    if old != folder and old.is_dir():
                        import shutil

                        shutil.rmtree(old, ignore_errors=True)
            self._bm25, self._bm25_version = index, version
            return index

    def _bm25_dir(self, version: str) -> Path:
        where = hashlib.sha256(self.location.encode()).hexdigest()[:8]
        return Path(self.settings.index_dir) / "bm25" / where / f"{self.settings.collection}-{version}"

    def _pages(self, collection, include: list, with_docs: bool = False):
        offset = 0
        while True:
            got = collection.get(include=include, limit=_PAGE, offset=offset)
            if not got["ids"]:
                return
            metas = got.get("metadatas") or [{}] * len(got["ids"])
            if with_docs:
                yield got["ids"], got["documents"], metas
            else:
                yield got["ids"], metas
            offset += len(got["ids"])

    def close(self) -> None:
        self._bm25 = None


def _passage(pid: str, doc: str, meta: dict) -> Passage:
    return Passage(
        id=pid,
        article_id=meta.get("article_id", pid.rsplit("#", 1)[0]),
        index=int(meta.get("index", 0)),
        text=doc or "",
        start=int(meta.get("start", 0)),
        end=int(meta.get("end", 0)),
        title=meta.get("title", ""),
        source=meta.get("source", ""),
        url=meta.get("url", ""),
        published=meta.get("published", ""),
    )


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
