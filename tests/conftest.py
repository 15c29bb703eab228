"""Shared fixtures: real Chroma stores in temporary folders, the real packaged models."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
# Tests must not pick up a developer's byline.toml or BYLINE_* settings.
for key in [k for k in os.environ if k.startswith("BYLINE_")]:
    del os.environ[key]
os.environ["BYLINE_CONFIG"] = str(ROOT / "tests" / "no-such-byline.toml")

CORPUS = ROOT / "corpus"
SHARED = ROOT.parent / "shared"
ARTIFACTS = ROOT / "test-artifacts"


def make_settings(tmp: Path, **overrides):
    from byline.config import load_settings

    base = {"index_dir": tmp / "index", "corpus_dir": tmp / "corpus", "backend": "extractive"}
    return load_settings({**base, **overrides})


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def served(engine):
    """The chat (and its /v1 API) launched over `engine` on a free loopback port: yields the URL
    without a trailing slash; closed after. Generator for module fixtures."""
    from byline.ui import build_app, close_app, launch

    app = build_app(engine)
    _, url = launch(app, engine, host="127.0.0.1", port=free_port())
    try:
        yield url.rstrip("/")
    finally:
        close_app(app)


def copy_corpus(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for f in CORPUS.glob("*.md"):
        shutil.copy(f, dest / f.name)
    return dest


@pytest.fixture(scope="session")
def bundled_dir(tmp_path_factory) -> Path:
    """A session-wide index of the bundled corpus (extractive backend; read-only use)."""
    root = tmp_path_factory.mktemp("bundled")
    copy_corpus(root / "corpus")
    return root


@pytest.fixture(scope="session")
def bundled_engine(bundled_dir):
    from byline import Engine

    engine = Engine(make_settings(bundled_dir))
    report = engine.ingest()
    assert report.count("added") == 5, report.summary()
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def local_engine(bundled_dir, bundled_engine):
    """The same index, answering with the packaged SmolLM2 served by llama.cpp on 127.0.0.1."""
    from byline import Engine

    engine = Engine(make_settings(bundled_dir, backend="local"))
    yield engine
    engine.close()


@pytest.fixture
def fresh(tmp_path):
    """An empty corpus and index of one's own, for tests that write."""
    from byline import Engine

    def _make(**overrides) -> "Engine":
        return Engine(make_settings(tmp_path, **overrides))

    (tmp_path / "corpus").mkdir()
    return _make


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
