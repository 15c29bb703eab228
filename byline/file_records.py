"""What each corpus file held when it was last ingested in full, so an unchanged file is skipped
without being parsed and cleaned again (issue #16: at 10× the RealTimeQA corpus, an unchanged
re-ingest spent 28 of its 33.5 s cleaning the text of articles it then skipped).

A file is skipped only when both hold: its bytes (and the code that turns bytes into articles)
are what they were, and the index still holds exactly the articles that file gave then, with the
same content hashes (an article deleted from the index since, or replaced by another file, makes
the file be read again).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

_READERS = ("corpus.py", "cleaning.py")  # the code whose output a record vouches for
_reader_version: str | None = None


def reader_version() -> str:
    global _reader_version
    if _reader_version is None:
        h = hashlib.sha256()
        for name in _READERS:
            h.update((Path(__file__).parent / name).read_bytes())
        _reader_version = h.hexdigest()[:12]
    return _reader_version


def fingerprint(path: Path) -> str | None:
    """The file's reader version, size and SHA-256; None when it cannot be read."""
    h = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
            size = fh.tell()
    except OSError:
        return None
    return f"{reader_version()}:{size}:{h.hexdigest()[:32]}"


def members_hash(members: Iterable[tuple[str, str]]) -> str:
    """One hash of (article id, content hash) pairs, in any order."""
    h = hashlib.sha256()
    for aid, content in sorted(members):
        h.update(f"{aid}\x00{content}\n".encode())
    return h.hexdigest()[:32]
