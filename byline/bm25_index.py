"""A BM25 keyword index over every passage (bm25s + PyStemmer), cached on local disk.

It is derived data: rebuilt from the Chroma store whenever the store's content version changes,
so a store on a Chroma server works from any machine.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np


class BM25Index:
    def __init__(self, ids: list[str], retriever, stemmer):
        self.ids = ids
        self._retriever = retriever
        self._stemmer = stemmer

    @classmethod
    def build(cls, ids: list[str], texts: list[str]) -> "BM25Index":
        import bm25s
        import Stemmer

        stemmer = Stemmer.Stemmer("english")
        retriever = bm25s.BM25()
        if texts:
            tokens = bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False)
            retriever.index(tokens, show_progress=False)
        return cls(ids, retriever if texts else None, stemmer)

    def save(self, folder: Path, extra: dict[str, object] | None = None) -> None:
        """Written whole to a temporary folder, then renamed: a reader never sees half an index.
        `extra`: more JSON files to keep with it (name → value)."""
        tmp = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if self._retriever is not None:
            self._retriever.save(str(tmp), show_progress=False)
        (tmp / "ids.json").write_text(json.dumps(self.ids))
        for name, value in (extra or {}).items():
            (tmp / name).write_text(json.dumps(value))
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)

    @classmethod
    def load(cls, folder: Path) -> "BM25Index | None":
        import bm25s
        import Stemmer

        try:
            ids = json.loads((folder / "ids.json").read_text())
            retriever = bm25s.BM25.load(str(folder), show_progress=False, verbosity=0) if ids else None
        except (OSError, ValueError):
            return None
        return cls(ids, retriever, Stemmer.Stemmer("english"))

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        import bm25s

        if self._retriever is None or not self.ids:
            return []
        tokens = bm25s.tokenize([query], stopwords="en", stemmer=self._stemmer, return_ids=False, show_progress=False)
        if not tokens or not tokens[0]:
            return []
        docs, scores = self._retriever.retrieve(tokens, k=min(k, len(self.ids)), show_progress=False, n_threads=1)
        return [(self.ids[int(d)], float(s)) for d, s in zip(np.asarray(docs)[0], np.asarray(scores)[0]) if s > 0]
