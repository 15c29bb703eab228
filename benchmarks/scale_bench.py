"""How Byline's costs grow with the corpus: ingest, re-ingest, index size, cold start, query
latency, retrieval quality and memory at F× the RealTimeQA corpus, with each figure's growth
exponent (issue #16).

    uv run --frozen python benchmarks/scale_bench.py                                  # 1×, 4×, 10× (long)
    uv run --frozen python benchmarks/scale_bench.py --factors 0.1,0.25 --questions 20 \
        --out benchmarks/results/scale_bench_small.json
    uv run --frozen python benchmarks/scale_bench.py --factors 1,4 --chroma-server    # + a Chroma server

The corpora (written to a temporary folder, never into the repository)
  * F× the corpus is round(F × 3,784) articles: whole copies k = 0, 1, …, then part of one more.
    Copy 0 is the original; copy k > 0 gives every article the id `<id>-c<k>`, moves its
    publication date k whole years later (29 February → 28) and rotates the sentences of each
    paragraph by k (where no paragraph has two sentences, the paragraphs after the lead are
    rotated instead), so every copy is a distinct article with the same facts.
  * A partial copy (F < 1, or the .5 of 2.5) takes the gold articles of the dev questions first,
    in question order, then the rest in file order (`--fraction-order gold-first`, the default):
    none of the gold articles is in the first 25% of corpus.jsonl, so "the first 10%" literally
    (`--fraction-order first`) has no question whose article is indexed.

What is measured for each factor (each step in its own fresh process, extractive backend, a fresh
index folder; peak RSS sampled every 50 ms from /proc by a thread in that process):
  1. ingest     `Engine.ingest()` of the corpus: wall time (model loading excluded, reported as
                `setup_s`), embedded tokens/s (tokens as the model sees them, counted by
                _common.CountingEmbedder, counting time subtracted) and passages/s, peak RSS during
                the ingest; then the same corpus ingested again with nothing changed (same process,
                everything skipped by content hash); then the BM25 build that the first question
                of a new index pays (`Store.bm25()`), timed apart with its own peak RSS; the index
                size on disk (Chroma store + BM25 cache). Also `manifest_read_s` (one
                `Store.manifest()`) and `text_read_s` (paging through every article's text and
                metadata as the BM25 rebuild does), to show where start-up and rebuilds go.
  2. cold CLI   `python app.py ask --backend extractive --index-dir … --corpus-dir … --json Q` in a new
                process (Q: the first question; no question date), timed from spawn to exit, with
                its peak RSS and the engine's own timings from the JSON.
  3. queries    a new process: time from spawn to the first answer (with its question date), split
                into imports, opening the store (Chroma + embedder), reading the manifest
                (`Store.version()`), loading the BM25 cache and the first answer itself; then each
                question (`--questions N`, default all 103) asked with `Engine.ask(q,
                question_date=…)`: retrieval (`answer.timings["retrieval"]`, and its vector / bm25
                / fetch parts) and end-to-end (`timings["total"]`) p50/p95; hit@5 and MRR@10 of
                the gold article *of the last copy* (questions dated question_date + k years,
                gold `<id>-c<k>`; k = the last copy that holds the golds), ranked per article as
                byline/evaluation/metrics.py does; RSS of that process after the questions.
  4. --chroma-server (optional, largest factor only): `chroma run --path DIR --port P` on 127.0.0.1,
                the corpus ingested into it (`chroma_url`), then `app.py ask --chroma-url …` from a
                second "machine" with an empty local index folder (its BM25 index is rebuilt from
                the server's articles), spawn to exit, and once more with that BM25 cache present.

Growth exponent of a figure = log(value_F / value_smallest) / log(articles_F / articles_smallest)
(1 = linear in the corpus, 0 = flat, > 1 = faster than the corpus); with three or more factors a
least-squares slope over all of them is given too. Printed as a table, written as JSON
(benchmarks/results/scale_bench.json, --out) and plotted log-log (next to the JSON, --plot).
The machine has 2 cores and may be shared: small figures (under ~50 ms) are noisy.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    RESULTS,
    ROOT,
    RssSampler,
    dir_size,
    counting_engine,
    free_port,
    ingest_figures,
    load_questions,
    machine,
    mib,
    p50_p95,
    phase_result,
    print_footer,
    rel,
    stop_process,
    tree_rss,
    write_result,
)

SHARED = ROOT.parent / "shared" / "benchmarks" / "realtimeqa"
DEFAULT_CORPUS = SHARED / "corpus.jsonl"
DEFAULT_SET = SHARED / "dev.jsonl"
CHROMA = Path(sys.executable).parent / "chroma"

# (key, label, kind): "cost" grows with the corpus if anything does; "rate"/"quality" should stay flat.
FIGURES = [
    ("ingest_s", "full ingest (s)", "cost"),
    ("ingest_tokens_per_s", "ingest: embedded tokens/s", "rate"),
    ("ingest_passages_per_s", "ingest: passages/s", "rate"),
    ("ingest_peak_rss_mib", "ingest: peak RSS (MiB)", "cost"),
    ("index_mib", "index on disk (MiB)", "cost"),
    ("reingest_unchanged_s", "re-ingest, unchanged (s)", "cost"),
    ("bm25_build_s", "BM25 + vectors, every period built (s)", "cost"),
    ("rebuild_after_one_new_article_s", "one article added: its period rebuilt (s)", "cost"),
    ("manifest_read_s", "manifest read (s)", "cost"),
    ("text_read_s", "all article text read (s)", "cost"),
    ("cold_cli_s", "cold start: app.py ask, spawn→exit (s)", "cost"),
    ("cold_cli_peak_rss_mib", "cold start: app.py ask peak RSS (MiB)", "cost"),
    ("first_answer_s", "new process: spawn→first answer (s)", "cost"),
    ("open_manifest_s", "new process: Store.version() (s)", "cost"),
    ("open_bm25_load_s", "new process: first question's periods loaded (s)", "cost"),
    ("retrieval_p50_s", "retrieval p50 (s)", "cost"),
    ("retrieval_p95_s", "retrieval p95 (s)", "cost"),
    ("vector_p50_s", "  vector search p50 (s)", "cost"),
    ("bm25_p50_s", "  BM25 search p50 (s)", "cost"),
    ("fetch_p50_s", "  fusion + fetch p50 (s)", "cost"),
    ("total_p50_s", "end-to-end p50 (s)", "cost"),
    ("total_p95_s", "end-to-end p95 (s)", "cost"),
    ("hit@5", "hit@5 (gold of the last copy)", "quality"),
    ("mrr@10", "MRR@10", "quality"),
    ("query_rss_mib", "query process RSS after questions (MiB)", "cost"),
]


# --- the corpora ------------------------------------------------------------------------------
_SENTENCE_BREAK = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"”’']))\s+(?=[\"“‘'(\[A-Z0-9])")
_LINE_BREAKS = re.compile(r"(\n+)")


def shift_years(date: str, k: int) -> str:
    """YYYY-MM-DD… moved k whole years later (29 February → 28); anything else unchanged."""
    m = re.match(r"(\d{4})-(\d{2})-(\d{2})", date or "")
    if not k or not m:
        return date
    y, mo, d = (int(x) for x in m.groups())
    try:
        dt.date(y + k, mo, d)
    except ValueError:
        d = 28
    return f"{y + k:04d}-{mo:02d}-{d:02d}" + date[10:]


def vary_text(text: str, k: int) -> str:
    """The text with each paragraph's sentences rotated by k; if that changes nothing (no
    paragraph has two sentences), the paragraphs after the first are rotated by k instead."""
    if k == 0:
        return text
    parts = _LINE_BREAKS.split(text)  # paragraphs at even indices, the line breaks between them at odd ones
    changed = False
    for i in range(0, len(parts), 2):
        m = re.match(r"(\s*)(.*?)(\s*)$", parts[i], re.S)
        lead, body, tail = m.groups()
        sentences = [s for s in _SENTENCE_BREAK.split(body) if s]
        r = k % len(sentences) if len(sentences) > 1 else 0
        if r:
            parts[i] = lead + " ".join(sentences[r:] + sentences[:r]) + tail
            changed = True
    if not changed:
        paras = [i for i in range(0, len(parts), 2) if parts[i].strip()]
        rest = paras[1:]
        if len(rest) > 1 and k % len(rest):
            r = k % len(rest)
            texts = [parts[i] for i in rest]
            for i, t in zip(rest, texts[r:] + texts[:r]):
                parts[i] = t
    return "".join(parts)


def copy_record(record: dict, k: int) -> dict:
    if k == 0:
        return record
    out = dict(record)
    out["id"] = f"{record['id']}-c{k}"
    out["published"] = shift_years(record.get("published") or "", k)
    out["text"] = vary_text(record.get("text") or "", k)
    return out


def copy_id(article_id: str, k: int) -> str:
    return article_id if k == 0 else f"{article_id}-c{k}"


def read_corpus(path: Path) -> tuple[list[str], list[str]]:
    """The corpus's non-blank lines and their article ids."""
    lines, ids = [], []
    with Path(path).open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                lines.append(line)
                ids.append(json.loads(line)["id"])
    return lines, ids


def fraction_order(ids: list[str], gold_order: list[str], how: str) -> list[int]:
    """Line indices in the order a partial copy takes them."""
    if how == "first":
        return list(range(len(ids)))
    pos = {a: i for i, a in enumerate(ids)}
    first = list(dict.fromkeys(pos[g] for g in gold_order if g in pos))
    taken = set(first)
    return first + [i for i in range(len(ids)) if i not in taken]


def build_corpus(lines: list[str], order: list[int], factor: float, dest: Path) -> dict:
    """Write round(factor × len(lines)) articles (whole copies, then part of one) to dest/corpus.jsonl."""
    t0 = time.perf_counter()
    n = len(lines)
    total = max(1, round(factor * n))
    dest.mkdir(parents=True, exist_ok=True)
    written, k, unchanged = 0, 0, 0
    members: dict[int, set[int]] = {}  # copy → line indices it holds
    with (dest / "corpus.jsonl").open("w", encoding="utf-8") as out:
        while written < total:
            take = min(n, total - written)
            idx = list(range(n)) if take == n else sorted(order[:take])
            members[k] = set(idx)
            for i in idx:
                record = json.loads(lines[i])
                copied = copy_record(record, k)
                if k and copied.get("text") == record.get("text"):
                    unchanged += 1
                out.write(json.dumps(copied, ensure_ascii=False) + "\n")
            written += take
            k += 1
    return {
        "articles": written,
        "copies": k,
        "whole_copies": sum(len(m) == n for m in members.values()),
        "texts_not_varied": unchanged,
        "bytes": (dest / "corpus.jsonl").stat().st_size,
        "build_s": round(time.perf_counter() - t0, 2),
        "_members": members,
    }


def gold_copy(members: dict[int, set[int]], golds: list[list[int]]) -> int:
    """The last copy holding every question's gold articles (else the last holding any)."""
    needed = {i for g in golds for i in g}
    for k in sorted(members, reverse=True):
        if needed <= members[k]:
            return k
    for k in sorted(members, reverse=True):
        if needed & members[k]:
            return k
    return max(members)


# --- phases, each in a child process ----------------------------------------------------------
def _settings(spec: dict):
    from byline.config import load_settings

    overrides = {"index_dir": spec["index_dir"], "corpus_dir": spec["corpus_dir"], "backend": "extractive"}
    if spec.get("chroma_url"):
        overrides["chroma_url"] = spec["chroma_url"]
    return load_settings(overrides)


def phase_ingest(spec: dict) -> dict:
    engine, counting, setup = counting_engine(_settings(spec))
    rss_before = tree_rss(os.getpid())
    with RssSampler() as rss:
        report = engine.ingest()
    out = ingest_figures(report, counting, setup)
    out.update({
        "rss_before_mib": mib(rss_before),
        "peak_rss_mib": mib(rss.peak),
    })
    tokens_before = counting.tokens
    with RssSampler() as rss_again:
        again = engine.ingest()
    out["reingest"] = {
        "seconds": round(again.seconds, 3),
        "statuses": {s: again.count(s) for s in ("added", "updated", "skipped", "removed", "error")},
        "tokens_embedded": counting.tokens - tokens_before,
        "peak_rss_mib": mib(rss_again.peak),
    }
    store = engine.store
    t = time.perf_counter()
    manifest = store.manifest()
    out["manifest_read_s"] = round(time.perf_counter() - t, 3)
    out["articles_in_index"] = len(manifest)
    del manifest
    t = time.perf_counter()
    chars = 0
    for _, docs, _ in store._pages(store.articles_col, include=["documents", "metadatas"], also="documents", page=200):
        chars += sum(len(d or "") for d in docs)  # what Store.bm25() reads before it tokenizes
    out["text_read_s"] = round(time.perf_counter() - t, 3)
    out["text_chars"] = chars
    with RssSampler() as rss_bm25:
        t = time.perf_counter()
        periods = store.warm()  # every period's BM25 index and vectors, built from Chroma
        out["bm25_build_s"] = round(time.perf_counter() - t, 3)
    out["bm25_passages"] = sum(len(p.bm25.ids) for p in periods)
    out["bm25_periods"] = len(periods)
    out["bm25_peak_rss_mib"] = mib(rss_bm25.peak)
    # One article added: what the next question pays to bring the search data up to date (only
    # the added article's period is rebuilt), then the article removed again (and its period
    # rebuilt, untimed) so the query phase sees the corpus as built.
    extra = Path(spec["index_dir"]).parent / "one-more"
    extra.mkdir(parents=True, exist_ok=True)
    record = json.loads(next(iter(open(Path(spec["corpus_dir"]) / "corpus.jsonl", encoding="utf-8"))))
    record.update(id="scale-bench-one-more", title="One more: " + (record.get("title") or ""))
    (extra / "one.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
    t = time.perf_counter()
    engine.ingest([extra], prune=False)
    out["one_new_article_ingest_s"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    store.warm()
    out["rebuild_after_one_new_article_s"] = round(time.perf_counter() - t, 3)
    engine.delete_article("scale-bench-one-more")
    store.warm()
    index_dir = Path(spec["index_dir"])
    out["chroma_bytes"] = dir_size(index_dir / "chroma")
    out["bm25_bytes"] = dir_size(index_dir / "bm25")
    out["index_bytes"] = dir_size(index_dir)
    engine.close()
    return out


def phase_query(spec: dict) -> dict:
    """A new process: the way to the first answer, then every question with its shifted date."""
    entered = time.time()
    t0 = time.perf_counter()
    from byline import Engine

    settings = _settings(spec)
    t_import = time.perf_counter()
    engine = Engine(settings)
    engine.store  # Chroma client + collections, embedder identity
    t_open = time.perf_counter()
    from byline.evaluation.metrics import article_rank  # after the timed imports
    engine.store.version()  # the content token (session 9; it was the whole manifest before)
    t_manifest = time.perf_counter()
    questions = spec["questions"]
    engine.store.warm(engine.retriever.window(questions[0]["question_date"]))  # the first question's periods, from the cache
    t_bm25 = time.perf_counter()
    first = engine.ask(questions[0]["question"], question_date=questions[0]["question_date"])
    t_first = time.perf_counter()
    cold = {
        "interpreter_s": round(entered - spec["spawned_at"], 3),
        "import_s": round(t_import - t0, 3),
        "open_store_s": round(t_open - t_import, 3),
        "manifest_s": round(t_manifest - t_open, 3),
        "bm25_load_s": round(t_bm25 - t_manifest, 3),
        "first_answer_s": round(t_first - t_bm25, 3),
        "first_answer_timings": {k: round(v, 4) for k, v in first.timings.items()},
        "spawn_to_first_answer_s": round(time.time() - spec["spawned_at"], 3),
        "rss_after_first_answer_mib": mib(tree_rss(os.getpid())),
    }
    rows = []
    with RssSampler() as rss:
        for q in questions:
            t = time.perf_counter()
            answer = engine.ask(q["question"], question_date=q["question_date"])
            wall = time.perf_counter() - t
            retrieved = [sp.passage.article_id for sp in answer.retrieved]
            rows.append(
                {
                    "id": q["id"],
                    "wall_s": round(wall, 4),
                    "timings": {k: round(v, 4) for k, v in answer.timings.items()},
                    "rank": article_rank(retrieved, set(q["gold"])),
                    "has_gold": bool(q["gold"]),
                    "tier": answer.tier,
                }
            )
    rss_end = tree_rss(os.getpid())
    engine.close()
    with_gold = [r for r in rows if r["has_gold"]]
    return {
        "cold": cold,
        "questions": len(rows),
        "questions_with_gold": len(with_gold),
        "stages": {k: p50_p95([r["timings"].get(k) for r in rows]) for k in ("vector", "bm25", "fetch", "retrieval", "plan", "answer", "total")},
        "wall": p50_p95([r["wall_s"] for r in rows]),
        "hit@5": _mean([float(r["rank"] is not None and r["rank"] <= 5) for r in with_gold]),
        "mrr@10": _mean([1.0 / r["rank"] if r["rank"] is not None and r["rank"] <= 10 else 0.0 for r in with_gold]),
        "tiers": {t: sum(r["tier"] == t for r in rows) for t in sorted({r["tier"] for r in rows})},
        "rss_after_questions_mib": mib(rss_end),
        "rss_peak_mib": mib(rss.peak),
        "per_question": rows,
    }


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def run_phase(name: str, spec: dict, timeout: float) -> dict:
    """Run one phase in a fresh process; wall time and peak RSS of its process tree measured here too."""
    spec = {**spec, "spawned_at": time.time()}
    cmd = [sys.executable, __file__, "--phase", name, "--phase-spec", json.dumps(spec)]
    code, stdout, _, wall, peak = _measured(cmd, f"phase {name}", timeout, capture_stderr=False)
    result = phase_result(name, code, stdout)
    result["process_wall_s"] = round(wall, 3)
    result["process_peak_rss_mib"] = mib(peak)
    return result


def _measured(cmd: list[str], what: str, timeout: float, capture_stderr: bool = True):
    """Run `cmd` in the repository: (exit code, stdout, stderr, wall seconds, peak RSS of its tree)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE if capture_stderr else None, stdin=subprocess.DEVNULL, text=True)
    with RssSampler(proc.pid) as rss:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop_process(proc)
            raise SystemExit(f"{what} did not finish within {timeout:.0f} s")
    return proc.returncode, stdout, stderr or "", time.perf_counter() - t0, rss.peak


def cli_ask(question: str, index_dir: Path, corpus_dir: Path, timeout: float, chroma_url: str | None = None, date: str | None = None) -> dict:
    """`python app.py ask --json` in a new process: spawn to exit, peak RSS, the engine's timings."""
    cmd = [sys.executable, str(ROOT / "app.py"), "ask", "--backend", "extractive", "--index-dir", str(index_dir), "--corpus-dir", str(corpus_dir)]
    if chroma_url:
        cmd += ["--chroma-url", chroma_url]
    if date:
        cmd += ["--date", date]
    cmd += ["--json", question]
    code, stdout, stderr, wall, peak = _measured(cmd, "app.py ask", timeout)
    if code != 0:
        raise SystemExit(f"app.py ask failed ({code}): {stderr[-2000:]}")
    answer = json.loads(stdout)
    return {
        "spawn_to_exit_s": round(wall, 3),
        "peak_rss_mib": mib(peak),
        "timings": answer.get("timings", {}),
        "tier": answer.get("tier"),
        "built_index": "Building the index" in stderr,
    }


# --- the Chroma server ------------------------------------------------------------------------
def start_chroma(path: Path, log: Path, timeout: float = 60.0):
    import httpx

    port = free_port()
    fh = open(log, "wb")
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    proc = subprocess.Popen([str(CHROMA), "run", "--path", str(path), "--port", str(port), "--host", "127.0.0.1"],
                            stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)  # fmt: skip
    proc._log = fh  # closed by stop_chroma
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            fh.close()
            raise SystemExit(f"chroma run exited with {proc.returncode}: {log.read_text(errors='replace')[-2000:]}")
        try:
            if httpx.get(f"{url}/api/v2/heartbeat", timeout=1.0).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            stop_chroma(proc)
            raise SystemExit(f"chroma run did not answer a heartbeat within {timeout:.0f} s")
        time.sleep(0.2)


def stop_chroma(proc) -> None:
    stop_process(proc)
    proc._log.close()


def chroma_server_step(corpus_dir: Path, questions: list[dict], work: Path, timeout: float) -> dict:
    """Ingest into a Chroma server, then answer from a second 'machine' with an empty local index."""
    work.mkdir(parents=True, exist_ok=True)
    proc, url = start_chroma(work / "server-data", work / "chroma-server.log")
    try:
        spec = {"index_dir": str(work / "machine-a" / "index"), "corpus_dir": str(corpus_dir), "chroma_url": url}
        ingest = run_phase("ingest", spec, timeout)
        server_rss = tree_rss(proc.pid)
        empty_corpus = work / "machine-b" / "corpus"
        empty_corpus.mkdir(parents=True)
        index_b = work / "machine-b" / "index"
        # The first dev question with its date (shifted to the copy the golds are in), as the
        # query phase asks it; then again with that machine's cache; then undated from a third
        # machine, which needs every period.
        q = questions[0]
        first = cli_ask(q["question"], index_b, empty_corpus, timeout, chroma_url=url, date=q["question_date"])
        second = cli_ask(q["question"], index_b, empty_corpus, timeout, chroma_url=url, date=q["question_date"])
        undated = cli_ask(q["question"], work / "machine-c" / "index", empty_corpus, timeout, chroma_url=url)
    finally:
        stop_chroma(proc)
    return {
        "url": "http://127.0.0.1:<free port>",
        "ingest_s": ingest["seconds"],
        "ingest_tokens_per_s": ingest["tokens_per_s"],
        "ingest_peak_rss_mib": ingest["peak_rss_mib"],
        "reingest_unchanged_s": ingest["reingest"]["seconds"],
        "bm25_build_s": ingest["bm25_build_s"],
        "manifest_read_s": ingest["manifest_read_s"],
        "text_read_s": ingest["text_read_s"],
        "server_rss_after_ingest_mib": mib(server_rss),
        "server_data_mib": mib(dir_size(work / "server-data")),
        "second_machine_first_ask_s": first["spawn_to_exit_s"],
        "second_machine_first_ask": first,
        "second_machine_second_ask_s": second["spawn_to_exit_s"],
        "second_machine_second_ask": second,
        "third_machine_undated_first_ask_s": undated["spawn_to_exit_s"],
        "third_machine_undated_first_ask": undated,
        "ingest": ingest,
    }


# --- growth -----------------------------------------------------------------------------------
def exponents(sizes: list[float], values: list[float | None]) -> dict:
    """log(v/v0)/log(n/n0) against the smallest corpus, and a least-squares log-log slope (3+ points)."""
    out: dict = {"vs_smallest": [], "fit": None}
    if not sizes or values[0] is None or values[0] <= 0:
        out["vs_smallest"] = [None] * max(0, len(sizes) - 1)
        return out
    n0, v0 = sizes[0], values[0]
    for n, v in zip(sizes[1:], values[1:]):
        ok = v is not None and v > 0 and n > n0
        out["vs_smallest"].append(round(math.log(v / v0) / math.log(n / n0), 3) if ok else None)
    pts = [(math.log(n), math.log(v)) for n, v in zip(sizes, values) if v is not None and v > 0]
    if len(pts) >= 3:
        mx = sum(x for x, _ in pts) / len(pts)
        my = sum(y for _, y in pts) / len(pts)
        sxx = sum((x - mx) ** 2 for x, _ in pts)
        if sxx > 0:
            out["fit"] = round(sum((x - mx) * (y - my) for x, y in pts) / sxx, 3)
    return out


def figures_of(ing: dict, cold_cli: dict, query: dict) -> dict:
    st = query["stages"]
    return {
        "ingest_s": ing["seconds"],
        "ingest_tokens_per_s": ing["tokens_per_s"],
        "ingest_passages_per_s": ing["passages_per_s"],
        "ingest_peak_rss_mib": ing["peak_rss_mib"],
        "index_mib": mib(ing["index_bytes"]),
        "reingest_unchanged_s": ing["reingest"]["seconds"],
        "bm25_build_s": ing["bm25_build_s"],
        "rebuild_after_one_new_article_s": ing.get("rebuild_after_one_new_article_s"),
        "manifest_read_s": ing["manifest_read_s"],
        "text_read_s": ing["text_read_s"],
        "cold_cli_s": cold_cli["spawn_to_exit_s"],
        "cold_cli_peak_rss_mib": cold_cli["peak_rss_mib"],
        "first_answer_s": query["cold"]["spawn_to_first_answer_s"],
        "open_manifest_s": query["cold"]["manifest_s"],
        "open_bm25_load_s": query["cold"]["bm25_load_s"],
        "retrieval_p50_s": st["retrieval"]["p50"],
        "retrieval_p95_s": st["retrieval"]["p95"],
        "vector_p50_s": st["vector"]["p50"],
        "bm25_p50_s": st["bm25"]["p50"],
        "fetch_p50_s": st["fetch"]["p50"],
        "total_p50_s": st["total"]["p50"],
        "total_p95_s": st["total"]["p95"],
        "hit@5": query["hit@5"],
        "mrr@10": query["mrr@10"],
        "query_rss_mib": query["rss_after_questions_mib"],
    }


def plot(path: Path, rows: list[dict]) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [r["articles"] for r in rows]
    cols = 4
    nrows = math.ceil(len(FIGURES) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(4.0 * cols, 2.9 * nrows), squeeze=False)
    for ax, (key, label, kind) in zip(axes.flat, FIGURES):
        vals = [r["figures"].get(key) for r in rows]
        pts = [(n, v) for n, v in zip(sizes, vals) if v is not None and v > 0]
        ax.set_title(label.strip(), fontsize=9)
        ax.set_xscale("log")
        ax.set_yscale("log")
        if pts:
            xs = [n for n, _ in pts]
            ax.plot(xs, [v for _, v in pts], "o-", color="tab:blue" if kind == "cost" else "tab:green")
            n0, v0 = pts[0]
            if kind == "cost":
                ax.plot(xs, [v0 * n / n0 for n in xs], "--", color="grey", linewidth=0.8, label="linear from the smallest")
            else:
                ax.plot(xs, [v0 for _ in xs], ":", color="grey", linewidth=0.8, label="flat")
            for n, v in pts:
                ax.annotate(f"{v:.3g}", (n, v), textcoords="offset points", xytext=(4, 4), fontsize=7)
            ax.legend(fontsize=6, loc="best")
        ax.set_xticks(sizes, [f"{n:,}" for n in sizes])
        ax.minorticks_off()
        ax.tick_params(labelsize=7)
        ax.grid(True, which="both", linewidth=0.3)
    for ax in list(axes.flat)[len(FIGURES) :]:
        ax.axis("off")
    fig.suptitle(f"Byline at {', '.join(str(r['factor']) for r in rows)}× RealTimeQA (articles on x; dashed = linear growth)", fontsize=11)
    fig.supxlabel("articles in the index (log)", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def print_table(rows: list[dict], growth: dict) -> None:
    """Values per factor, then the exponent against articles; against passages too when the two
    ratios differ by more than 5% (partial copies are not a uniform sample of the corpus)."""
    r0 = rows[0]
    skewed = any(abs(math.log((r["passages"] / r0["passages"]) / (r["articles"] / r0["articles"]))) > 0.05 for r in rows[1:])
    head = f"  {'figure':<42}" + "".join(f"{_fmt_factor(r['factor']) + '×':>11}" for r in rows)
    head += "".join(f"{'exp ' + _fmt_factor(r['factor']):>10}" for r in rows[1:]) + (f"{'fit':>7}" if len(rows) >= 3 else "")
    if skewed:
        head += "".join(f"{'/psg ' + _fmt_factor(r['factor']):>11}" for r in rows[1:])
    print(head)
    print(f"  {'articles':<42}" + "".join(f"{r['articles']:>11,}" for r in rows))
    print(f"  {'passages':<42}" + "".join(f"{r['passages']:>11,}" for r in rows))
    for key, label, _ in FIGURES:
        line = f"  {label:<42}"
        for r in rows:
            v = r["figures"].get(key)
            line += f"{'-':>11}" if v is None else f"{v:>11.4g}"
        for e in growth[key]["vs_smallest"]:
            line += f"{'-':>10}" if e is None else f"{e:>10.2f}"
        if len(rows) >= 3:
            f = growth[key]["fit"]
            line += f"{'-':>7}" if f is None else f"{f:>7.2f}"
        if skewed:
            for e in growth[key]["vs_smallest_by_passages"]:
                line += f"{'-':>11}" if e is None else f"{e:>11.2f}"
        print(line)


# --- main -------------------------------------------------------------------------------------
def parse_factors(text: str) -> list[float]:
    try:
        factors = sorted({float(x) for x in text.split(",") if x.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"--factors {text!r}: expected numbers like 0.1,1,4")
    if not factors or factors[0] <= 0:
        raise argparse.ArgumentTypeError("--factors must be positive")
    return factors


def _fmt_factor(f: float) -> str:
    return str(int(f)) if f == int(f) else str(f)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Scale benchmark: Byline's costs at F× the RealTimeQA corpus, with growth exponents.",
                                     epilog="See the module docstring for exactly what is measured.")  # fmt: skip
    parser.add_argument("--factors", type=parse_factors, default=parse_factors("1,4,10"), help="corpus sizes as multiples of the corpus (default: 1,4,10; 0.1 = a tenth)")
    parser.add_argument("--questions", type=int, help="only the first N dev questions (default: all 103)")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="the base corpus (.jsonl with id, published, text)")
    parser.add_argument("--set", dest="qset", type=Path, default=DEFAULT_SET, help="questions (JSONL with question, question_date, sources)")
    parser.add_argument("--fraction-order", choices=["gold-first", "first"], default="gold-first", help="which articles a partial copy takes (default: the questions' gold articles first)")
    parser.add_argument("--chroma-server", action="store_true", help="also ingest the largest factor into a `chroma run` server and time a second machine's first answer")
    parser.add_argument("--work-dir", type=Path, help="parent of the temporary work folder (default: the system's temp folder)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary work folder (printed)")
    parser.add_argument("--timeout", type=float, default=6 * 3600, help="seconds one step may take (default: 6 h)")
    parser.add_argument("--out", type=Path, help="JSON results (default: benchmarks/results/scale_bench.json)")
    parser.add_argument("--plot", type=Path, help="log-log plot (default: the --out path with .png)")
    parser.add_argument("--no-plot", action="store_true", help="do not draw the plot")
    parser.add_argument("--replot", type=Path, metavar="JSON", help="measure nothing: recompute the exponents of a saved result, print its table and plot it (--plot; --out to rewrite the JSON)")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--phase-spec", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phase:
        spec = json.loads(args.phase_spec)
        result = {"ingest": phase_ingest, "query": phase_query}[args.phase](spec)
        print("RESULT " + json.dumps(result), flush=True)
        return 0
    if args.replot:
        return replot(args.replot, None if args.no_plot else (args.plot or (args.out or args.replot).with_suffix(".png")), args.out)
    for p in (args.corpus, args.qset):
        if not p.exists():
            parser.error(f"{p} does not exist")
    if args.chroma_server and not CHROMA.exists():
        parser.error(f"--chroma-server needs the chromadb CLI at {CHROMA}")

    questions_all = load_questions(args.qset)
    questions = questions_all[: args.questions] if args.questions else questions_all
    if not questions:
        parser.error(f"{args.qset} has no standalone questions")
    lines, ids = read_corpus(args.corpus)
    pos = {a: i for i, a in enumerate(ids)}
    order = fraction_order(ids, [s for q in questions_all for s in q.get("sources") or []], args.fraction_order)
    golds = [[pos[s] for s in q.get("sources") or [] if s in pos] for q in questions]

    work = Path(tempfile.mkdtemp(prefix="byline-scale-bench-", dir=args.work_dir))
    load_before = machine()["load_average"]
    rows: list[dict] = []
    server: dict | None = None
    try:
        for factor in args.factors:
            name = _fmt_factor(factor)
            fdir = work / f"x{name}"
            corpus = build_corpus(lines, order, factor, fdir / "corpus")
            members = corpus.pop("_members")
            k = gold_copy(members, golds)
            asked = []
            for q, g in zip(questions, golds):
                present = [ids[i] for i in g if i in members[k]]
                asked.append({"id": q.get("id"), "question": q["question"], "question_date": shift_years(q.get("question_date") or "", k),
                              "gold": [copy_id(a, k) for a in present]})  # fmt: skip
            spec = {"index_dir": str(fdir / "index"), "corpus_dir": str(fdir / "corpus")}
            print(f"[{name}×] {corpus['articles']:,} articles ({corpus['copies']} copies, built in {corpus['build_s']} s); ingest …", file=sys.stderr, flush=True)
            ing = run_phase("ingest", spec, args.timeout)
            print(f"[{name}×] ingest {ing['seconds']:.1f} s, re-ingest {ing['reingest']['seconds']:.1f} s, BM25 {ing['bm25_build_s']:.1f} s; cold start …", file=sys.stderr, flush=True)
            cold = cli_ask(questions[0]["question"], fdir / "index", fdir / "corpus", args.timeout)
            print(f"[{name}×] app.py ask {cold['spawn_to_exit_s']:.1f} s; {len(asked)} questions (copy {k}) …", file=sys.stderr, flush=True)
            query = run_phase("query", {**spec, "questions": asked}, args.timeout)
            row = {
                "factor": factor,
                "articles": ing["articles_in_index"],
                "passages": ing["passages"],
                "corpus": corpus,
                "gold_copy": k,
                "figures": figures_of(ing, cold, query),
                "ingest": ing,
                "cold_cli": cold,
                "query": query,
            }
            rows.append(row)
            # Bounded disk use (a 10× index is a few GB); the server step re-reads the largest corpus.
            keep_corpus = args.chroma_server and factor == args.factors[-1]
            shutil.rmtree(fdir / "index" if keep_corpus else fdir, ignore_errors=True)
        if args.chroma_server:
            print(f"[{_fmt_factor(args.factors[-1])}×] Chroma server: ingest and a second machine's first answer …", file=sys.stderr, flush=True)
            server = chroma_server_step(work / f"x{_fmt_factor(args.factors[-1])}" / "corpus", asked, work / "server", args.timeout)
            server["factor"] = args.factors[-1]
    finally:
        if args.keep:
            print(f"work folder kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)

    from byline.config import load_settings

    s = load_settings({"backend": "extractive"})
    data = {
        "benchmark": "scale_bench",
        "corpus": rel(args.corpus),
        "set": rel(args.qset),
        "factors": args.factors,
        "questions": len(questions),
        "fraction_order": args.fraction_order,
        **growth_of(rows),
        "rows": rows,
        "chroma_server": server,
        "settings": {"embedder": s.embedder, "embed_threads": s.embed_threads, "embed_batch_size": s.embed_batch_size, "vector_passages": s.vector_passages,
                     "ingest_batch_passages": s.ingest_batch_passages, "recency_days": s.recency_days, "vector_k": s.vector_k, "bm25_k": s.bm25_k},  # fmt: skip
        "machine": {**machine(), "load_average_before": load_before},
        "note": NOTE,
    }
    out = write_result(args.out or RESULTS / "scale_bench.json", data)
    show(data, None if args.no_plot else (args.plot or out.with_suffix(".png")))
    print_footer(load_before, out)
    return 0


NOTE = ("Each step in its own process (extractive backend, fresh index). Exponent = log(v/v_smallest)/log(articles/articles_smallest) "
        "(by_passages: the same against passages, which differs from articles only for partial copies). "
        "Questions asked with question_date + k years against copy k (the last copy holding the golds).")  # fmt: skip


def growth_of(rows: list[dict]) -> dict:
    """The per-figure series and their exponents, against articles and against passages."""
    sizes = [r["articles"] for r in rows]
    passages = [r["passages"] for r in rows]
    growth = {}
    for key, label, kind in FIGURES:
        values = [r["figures"].get(key) for r in rows]
        by_passages = exponents(passages, values)
        growth[key] = {"label": label, "kind": kind, **exponents(sizes, values),
                       "vs_smallest_by_passages": by_passages["vs_smallest"], "fit_by_passages": by_passages["fit"]}  # fmt: skip
    return {"articles": sizes, "passages": passages, "figures": {key: [r["figures"].get(key) for r in rows] for key, _, _ in FIGURES}, "exponents": growth}


def show(data: dict, plot_path: Path | None) -> None:
    """Print the table (and write the plot) of a result."""
    rows, growth, server = data["rows"], data["exponents"], data.get("chroma_server")
    if plot_path:
        plot_path = plot(plot_path, rows)
    print(f"\nScale benchmark: {', '.join(_fmt_factor(f) + '×' for f in data['factors'])} {data['corpus']}, {data['questions']} questions "
          f"(exponent: 1 = grows like the corpus, 0 = flat)")  # fmt: skip
    print_table(rows, growth)
    for r in rows:
        q = r["query"]
        print(f"  {_fmt_factor(r['factor'])}×: copy {r['gold_copy']} asked, {q['questions_with_gold']} of {q['questions']} questions with a gold article indexed; "
              f"new process: imports {q['cold']['import_s']} s, store {q['cold']['open_store_s']} s, manifest {q['cold']['manifest_s']} s, "
              f"BM25 load {q['cold']['bm25_load_s']} s, first answer {q['cold']['first_answer_s']} s")  # fmt: skip
    if server:
        print(f"  Chroma server ({_fmt_factor(server['factor'])}×): ingest {server['ingest_s']} s ({server['ingest_tokens_per_s']} tokens/s), "
              f"re-ingest {server['reingest_unchanged_s']} s, server RSS {server['server_rss_after_ingest_mib']} MiB; second machine, empty local index: "
              f"first ask {server['second_machine_first_ask_s']} s, again with its cache {server['second_machine_second_ask_s']} s; "
              f"undated, another empty machine {server.get('third_machine_undated_first_ask_s')} s")  # fmt: skip
    if plot_path:
        print(f"  plot: {rel(plot_path)}")


def replot(path: Path, plot_path: Path | None, out: Path | None) -> int:
    """Recompute the exponents of a saved result, print its table and draw its plot (nothing is measured)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    data.update(growth_of(data["rows"]))
    data["note"] = NOTE
    if out:
        write_result(out, data)
    show(data, plot_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
