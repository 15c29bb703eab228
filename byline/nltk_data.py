"""Sentence spans and stopwords from the NLTK data that llama-index-core ships in site-packages.

Nothing is downloaded: the data path is pinned to llama-index's `_static/nltk_cache`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=1)
def _data_dir() -> str:
    import importlib.util

    import nltk

    # Located without importing llama_index.core, which takes seconds.
    spec = importlib.util.find_spec("llama_index.core")
    path = str(Path(list(spec.submodule_search_locations)[0]) / "_static" / "nltk_cache")
    if path not in nltk.data.path:
        nltk.data.path.insert(0, path)
    return path


@lru_cache(maxsize=1)
def _punkt():
    _data_dir()
    from nltk.tokenize.punkt import PunktTokenizer

    return PunktTokenizer("english")


@lru_cache(maxsize=None)
def stopwords(lang: str = "english") -> frozenset[str]:
    """The language's stopwords as a set, built once: callers test membership word by word."""
    _data_dir()
    from nltk.corpus import stopwords as sw

    return frozenset(sw.words(lang))


# Scrapes often glue sentences without a space ("Istanbul.In this line"); punkt needs the space.
_GLUED = re.compile(r"(?<=[a-z][.!?])(?=[A-Z][a-z])")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) character spans of the sentences of `text`, split on paragraphs first."""
    spans: list[tuple[int, int]] = []
    for para in re.finditer(r"[^\n]+", text):
        block = para.group()
        cuts = sorted({0, *(m.start() for m in _GLUED.finditer(block))})
        for i, cut in enumerate(cuts):
            piece = block[cut : cuts[i + 1] if i + 1 < len(cuts) else len(block)]
            for s, e in _punkt().span_tokenize(piece):
                if piece[s:e].strip():
                    spans.append((para.start() + cut + s, para.start() + cut + e))
    return spans
