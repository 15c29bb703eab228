"""Helpers shared by the benchmark scripts: RSS sampling, percentiles, corpus samples, results,
and the plain llama-index quickstart used as the comparison point.

Nothing here talks to anything but 127.0.0.1; the quickstart sets llama-index's global
`Settings.llm` and `Settings.embed_model` explicitly so it never reaches for OpenAI.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

MIB = 1024 * 1024
QUICKSTART_TOP_K = 2
QUICKSTART_COLLECTION = "quickstart"


# --- memory -----------------------------------------------------------------------------------
def tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants (e.g. the llama.cpp child)."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


class RssSampler:
    """Samples tree_rss(pid) in a thread every `interval` s; `peak` is the largest sample seen."""

    def __init__(self, pid: int | None = None, interval: float = 0.05):
        self.pid = pid or os.getpid()
        self.interval = interval
        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sample(self) -> int:
        rss = tree_rss(self.pid)
        self.peak = max(self.peak, rss)
        self.samples += 1
        return rss

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> "RssSampler":
        self.sample()
        self._thread = threading.Thread(target=self._run, daemon=True, name="rss-sampler")
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=2)
        self.sample()


def mib(nbytes: float | None) -> float | None:
    return None if nbytes is None else round(nbytes / MIB, 1)


def dir_size(path: Path) -> int:
    path = Path(path)
    if not path.exists():
        return 0
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


# --- statistics -------------------------------------------------------------------------------
def percentile(values: list[float | None], p: float) -> float | None:
    """Linear-interpolated percentile (p in 0..100) of the non-None values; None when empty."""
    vals = sorted(v for v in values if v is not None)
    if not vals:
        return None
    k = (len(vals) - 1) * p / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    value = vals[lo] + (vals[hi] - vals[lo]) * (k - lo)
    return round(value, 4)


def p50_p95(values: list[float | None]) -> dict[str, float | None]:
    return {"p50": percentile(values, 50), "p95": percentile(values, 95), "n": sum(v is not None for v in values)}


# --- machine and results ----------------------------------------------------------------------
def phase_result(name: str, code: int, stdout: str) -> dict:
    """The JSON a benchmark phase printed on its last `RESULT ` line; exits when the phase failed."""
    if code != 0:
        raise SystemExit(f"phase {name} failed with exit code {code}")
    line = next((l for l in reversed(stdout.splitlines()) if l.startswith("RESULT ")), None)
    if line is None:
        raise SystemExit(f"phase {name} printed no result")
    return json.loads(line[len("RESULT ") :])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def write_result(out: Path, data: dict) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    data.setdefault("measured_at", time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    out.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return out


def rel(path: Path) -> str:
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


# --- corpora and question sets ----------------------------------------------------------------
def sample_corpus(src: Path, dest: Path, limit: int | None) -> Path:
    """Copy `src` (a folder, or one .jsonl file) to `dest`, keeping only the first `limit` articles.

    A folder keeps its first `limit` files (sorted); a JSONL file its first `limit` non-blank lines.
    Returns the folder to ingest (`dest`).
    """
    src, dest = Path(src), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    if src.is_file():
        lines = []
        with src.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    lines.append(line if line.endswith("\n") else line + "\n")
                    if limit and len(lines) >= limit:
                        break
        (dest / src.name).write_text("".join(lines), encoding="utf-8")
        return dest
    files = sorted(p for p in src.rglob("*") if p.is_file() and not p.name.startswith("."))
    for f in files[:limit] if limit else files:
        target = dest / f.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(f, target)
    return dest


def load_questions(path: Path, limit: int | None = None) -> list[dict]:
    """Standalone questions of an evaluation set (JSONL with `question`; follow-ups skipped)."""
    rows = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        if row.get("follow_up_of") or not row.get("question"):
            continue
        rows.append(row)
    return rows[:limit] if limit else rows


# --- the llama-index quickstart ---------------------------------------------------------------
class CountingEmbedder:
    """Wraps a Byline embedder: counts the texts and model-input tokens it is asked to embed.

    Tokens are counted the way the model sees them (special tokens added, truncated to the model's
    maximum); the time spent counting is kept apart in `count_seconds` so callers can subtract it.
    """

    def __init__(self, inner):
        self.inner = inner
        self.texts = 0
        self.tokens = 0
        self.calls = 0
        self.embed_seconds = 0.0
        self.count_seconds = 0.0
        model = getattr(inner, "_model", None)
        self._tokenizer = getattr(model, "tokenizer", None)

    @property
    def identity(self) -> dict:
        return self.inner.identity

    def count_tokens(self, texts: list[str]) -> list[int]:
        return self.inner.count_tokens(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)

    def embed_texts(self, texts: list[str]) -> list[list[float]]:
        t0 = time.perf_counter()
        out = self.inner.embed_texts(texts)
        t1 = time.perf_counter()
        self.embed_seconds += t1 - t0
        self.calls += 1
        self.texts += len(texts)
        if self._tokenizer is not None:
            self.tokens += sum(len(e.ids) for e in self._tokenizer.encode_batch(list(texts)))
        else:
            self.tokens += sum(self.inner.count_tokens(list(texts)))
        self.count_seconds += time.perf_counter() - t1
        return out


def quickstart_documents(corpus: Path) -> list:
    """The corpus as llama-index Documents (Byline's reader, so both index the same cleaned text)."""
    from llama_index.core import Document

    from byline.corpus import ReadError, read_articles

    docs = []
    for item in read_articles([Path(corpus)]):
        if isinstance(item, ReadError):
            continue
        meta = {"article_id": item.id, "title": item.title, "published": item.published, "source": item.source, "url": item.url}
        hidden = ["article_id", "url"]
        docs.append(Document(id_=item.id, text=item.text, metadata=meta, excluded_embed_metadata_keys=hidden, excluded_llm_metadata_keys=hidden))
    return docs


def quickstart_ingest(corpus: Path, persist_dir: Path, embedder, llm=None):
    """The llama-index quickstart: `VectorStoreIndex.from_documents` over a Chroma collection,
    default transformations (SentenceSplitter, 1024-token chunks, 200 overlap).

    `embedder` is a Byline embedder (wrapped with `as_llama_index`); `llm` a llama-index LLM or
    None (llama-index then uses MockLLM). Returns (index, number of nodes).
    """
    import chromadb
    from llama_index.core import Settings as LlamaSettings
    from llama_index.core import StorageContext, VectorStoreIndex
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from byline.embeddings import as_llama_index

    embed_model = as_llama_index(embedder)
    LlamaSettings.embed_model = embed_model
    LlamaSettings.llm = llm  # None → MockLLM: nothing reaches the network
    client = chromadb.PersistentClient(path=str(Path(persist_dir) / "chroma"), settings=chromadb.Settings(anonymized_telemetry=False))
    collection = client.get_or_create_collection(QUICKSTART_COLLECTION)
    storage = StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=collection))
    index = VectorStoreIndex.from_documents(quickstart_documents(corpus), storage_context=storage, embed_model=embed_model)
    return index, collection.count()


def print_footer(load_before, out: Path) -> None:
    """The two closing lines every benchmark prints: how busy the machine was, and where the JSON went."""
    print(f"  load average before/after: {load_before} / {machine()['load_average']} on {os.cpu_count()} CPUs (shared machine: noisy)")
    print(f"  written to {rel(out)}")


# --- the web app --------------------------------------------------------------------------------
def wait_for_200(url: str, proc, timeout: float, interval: float = 0.05) -> float | None:
    """Poll GET `url` until it answers 200; seconds waited, or None if `proc` exited or time ran out."""
    import httpx

    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if proc is not None and proc.poll() is not None:
            return None
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return time.perf_counter() - t0
        except httpx.HTTPError:
            pass
        time.sleep(interval)
    return None


def stop_process(proc, grace: float = 15.0) -> None:
    """Terminate a child we started and wait for it; kill it if it does not stop in `grace` s."""
    import subprocess

    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


MODELS_LOADED = "Models loaded in"  # what `serve` logs when its background warm-up ends (byline/ui.py)


def wait_for_line(log, text: str, proc, t0: float, timeout: float) -> float | None:
    """Seconds from t0 until `text` appears in the app's log (polled every 50 ms)."""
    while time.perf_counter() - t0 < timeout and proc.poll() is None:
        if text in log.read_text(errors="replace"):
            return time.perf_counter() - t0
        time.sleep(0.05)
    return None


def counting_engine(settings):
    """An Engine whose embedder counts what it embeds, with its index and model already opened:
    (engine, the CountingEmbedder, seconds that setup took, which is not ingest time)."""
    from byline import Engine
    from byline.embeddings import make_embedder

    t0 = time.perf_counter()
    engine = Engine(settings)
    counting = CountingEmbedder(make_embedder(settings))
    engine._embedding = counting  # count what the ingest embeds
    engine.store  # open the index, load the model
    return engine, counting, time.perf_counter() - t0


def ingest_figures(report, counting, setup_s: float) -> dict:
    """The figures of one timed ingest: wall time without the token counting, statuses, passages
    and tokens per second, embedding time (ingest_bench, scale_bench)."""
    seconds = max(report.seconds - counting.count_seconds, 1e-9)
    return {
        "setup_s": round(setup_s, 3),
        "seconds": round(seconds, 3),
        "statuses": {s: report.count(s) for s in ("added", "updated", "skipped", "removed", "error")},
        "passages": report.passages_added,
        "passages_embedded": report.passages_embedded,
        "tokens": counting.tokens,
        "tokens_per_s": round(counting.tokens / seconds, 1),
        "passages_per_s": round(report.passages_added / seconds, 1),
        "embed_s": round(counting.embed_seconds, 3),
    }
