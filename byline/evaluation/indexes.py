"""One index per evaluated corpus, never the chat's `index/`.

Byline's index for corpus C lives in `<indexes>/<C stem>-<hash>` and the baseline's in
`<indexes>/<C stem>-baseline-<hash>`, where `<indexes>` is the folder next to the configured
index (`indexes/` by default, git-ignored) and the hash is of C's absolute path. A fingerprint
file records what the index was built with (embedder, chunking settings, the source of the
modules that cut and embed passages); when that changes the index is rebuilt instead of silently mixing
passages cut two ways. It is written before ingesting, so an interrupted ingest resumes.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from byline.config import Settings

FINGERPRINT_FILE = "eval-fingerprint.json"
_SHAPING_MODULES = ("chunking.py", "ingest.py", "store.py")  # what decides the passages and the text embedded


def corpus_key(corpus: Path) -> str:
    """`<stem>-<8 hex>`: readable, and unique per absolute corpus path."""
    path = Path(corpus).expanduser().resolve()
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", path.stem or path.name or "corpus").strip("_.-")[:40] or "corpus"
    return f"{stem}-{hashlib.sha1(str(path).encode()).hexdigest()[:8]}"


def indexes_root(settings: Settings) -> Path:
    return Path(settings.index_dir).parent / "indexes"


def byline_settings(settings: Settings, corpus: Path) -> Settings:
    """The settings for evaluating on `corpus`: its own index folder (and collection on a server)."""
    key = corpus_key(corpus)
    update: dict = {"index_dir": indexes_root(settings) / key, "corpus_dir": Path(corpus)}
    if settings.chroma_url:
        update["collection"] = f"eval-{key}"[:60]
    return settings.model_copy(update=update)


def baseline_dir(settings: Settings, corpus: Path) -> Path:
    stem, _, digest = corpus_key(corpus).rpartition("-")
    return indexes_root(settings) / f"{stem}-baseline-{digest}"


def byline_fingerprint(settings: Settings) -> dict:
    src = Path(__file__).resolve().parent.parent
    code = hashlib.sha1()
    for name in _SHAPING_MODULES:
        f = src / name
        code.update(f.read_bytes() if f.is_file() else b"")
    return {
        "embedder": settings.embedder,
        "chunk_tokens": settings.chunk_tokens,
        "chunk_overlap_sentences": settings.chunk_overlap_sentences,
        "vector_passages": settings.vector_passages,
        "code": code.hexdigest()[:16],
    }


def needs_rebuild(index_dir: Path, fingerprint: dict) -> bool:
    """True when the folder holds an index built another way (or of unknown make)."""
    index_dir = Path(index_dir)
    if not index_dir.exists() or not any(index_dir.iterdir()):
        return False
    try:
        return json.loads((index_dir / FINGERPRINT_FILE).read_text(encoding="utf-8")) != fingerprint
    except (OSError, ValueError):
        return True


def write_fingerprint(index_dir: Path, fingerprint: dict) -> None:
    Path(index_dir).mkdir(parents=True, exist_ok=True)
    (Path(index_dir) / FINGERPRINT_FILE).write_text(json.dumps(fingerprint, indent=2), encoding="utf-8")
