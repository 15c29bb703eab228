"""Ingest speed and memory: Byline's full and incremental ingest, the bare embedder's ceiling, and
the plain llama-index quickstart on the same corpus, in one run.

    uv run python benchmarks/ingest_bench.py                                  # the bundled corpus/
    uv run python benchmarks/ingest_bench.py --corpus ../shared/benchmarks/realtimeqa/corpus.jsonl --limit 200

What it measures (each phase in its own fresh Python process, so peak RSS is that phase's own;
RSS is sampled every 50 ms over the process and its children):
  1. full      Byline ingest into a fresh temporary index (extractive backend: no LLM is started).
               Time is the ingest itself (read, clean, chunk, embed, store), not model loading,
               which is reported apart as `setup_s`. Passages/s, embedded tokens/s (tokens as the
               model sees them: special tokens added, truncated to its maximum), the share of the
               time spent inside the embedder, index size on disk; then the BM25 build the first
               question triggers, timed apart.
  2. unchanged re-ingest with nothing changed (everything skipped by content hash).
  3. ceiling   the same embedded passages (each article's lead: `vector_passages`) through `byline.onnx_models.OnnxEmbedder.embed` alone (one call,
               after a warm-up): the throughput Byline's ingest could reach if it did nothing else.
  4. quickstart `VectorStoreIndex.from_documents` over a Chroma collection with llama-index's
               default SentenceSplitter (1024-token chunks, 200 overlap) and the same embedder via
               `byline.embeddings.as_llama_index`; `Settings.llm = None` (MockLLM): no network.
               Timed from before llama-index is imported (Byline's ingest imports it too).
  5. changed   re-ingest after changing 10 articles (JSONL: a modified copy of the sampled file
               with 10 texts altered; folders: 10 files altered).

The corpus (or its first --limit articles) is copied to a temporary folder first; the original is
never touched. Results are printed and written to benchmarks/results/ingest_bench.json (--out).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    CountingEmbedder,
    RESULTS,
    ROOT,
    RssSampler,
    counting_engine,
    dir_size,
    ingest_figures,
    machine,
    mib,
    phase_result,
    print_footer,
    quickstart_ingest,
    rel,
    sample_corpus,
    write_result,
)

NOTE = "Editor's note: this article was revised after publication to correct a detail."


# --- phases (each runs in a child process) ----------------------------------------------------
def _settings(work: Path):
    from byline.config import load_settings

    return load_settings({"index_dir": work / "index", "corpus_dir": work / "corpus", "backend": "extractive"})


def phase_byline(work: Path, build_bm25: bool) -> dict:
    engine, counting, setup = counting_engine(_settings(work))
    report = engine.ingest()
    out = ingest_figures(report, counting, setup)
    seconds = out["seconds"]
    out.update({
        "embed_share": round(counting.embed_seconds / seconds, 3),
        "articles_in_index": engine.store.count(),
        "index_bytes": dir_size(work / "index" / "chroma"),
    })
    if build_bm25:
        t = time.perf_counter()
        engine.store.warm()
        out["bm25_build_s"] = round(time.perf_counter() - t, 3)
        out["bm25_bytes"] = dir_size(work / "index" / "bm25")
    engine.close()
    return out


def phase_ceiling(work: Path) -> dict:
    from byline.chunking import split_article
    from byline.corpus import ReadError, read_articles
    from byline.ingest import embedded_passages
    from byline.onnx_models import OnnxEmbedder

    s = _settings(work)
    if s.embedder == "openai":
        return {"skipped": "the openai embedder has no local ceiling"}
    emb = OnnxEmbedder(s.embedder, s.embed_threads, s.embed_batch_size)
    texts = []
    for article in read_articles([work / "corpus"]):
        if isinstance(article, ReadError):
            continue
        for p in embedded_passages(split_article(article, s.chunk_tokens, s.chunk_overlap_sentences, emb.count_tokens), s):
            texts.append(f"{p.title}\n{p.text}")  # exactly what Byline's ingest embeds (the lead passages)
    tokens = sum(len(e.ids) for e in emb.tokenizer.encode_batch(texts))
    emb.embed(["warm up"])
    t0 = time.perf_counter()
    emb.embed(texts)
    seconds = max(time.perf_counter() - t0, 1e-9)
    return {
        "seconds": round(seconds, 3),
        "passages": len(texts),
        "tokens": tokens,
        "passages_per_s": round(len(texts) / seconds, 1),
        "tokens_per_s": round(tokens / seconds, 1),
        "threads": s.embed_threads,
        "batch_size": s.embed_batch_size,
    }


def phase_quickstart(work: Path) -> dict:
    import chromadb  # noqa: F401  (Byline's store imports it before its ingest is timed, too)

    from byline.embeddings import make_embedder

    s = _settings(work)
    counting = CountingEmbedder(make_embedder(s))
    counting.inner.identity  # model loaded: setup, not ingest
    t0 = time.perf_counter()
    _, nodes = quickstart_ingest(work / "corpus", work / "quickstart", counting, llm=None)
    seconds = max(time.perf_counter() - t0 - counting.count_seconds, 1e-9)
    return {
        "seconds": round(seconds, 3),
        "chunks": nodes,
        "tokens": counting.tokens,
        "chunks_per_s": round(nodes / seconds, 1),
        "tokens_per_s": round(counting.tokens / seconds, 1),
        "embed_s": round(counting.embed_seconds, 3),
        "index_bytes": dir_size(work / "quickstart" / "chroma"),
    }


def run_phase_in_child(name: str) -> None:
    work = Path(os.environ["BYLINE_BENCH_WORK"])
    if name == "full":
        result = phase_byline(work, build_bm25=True)
    elif name in ("unchanged", "changed"):
        result = phase_byline(work, build_bm25=False)
    elif name == "ceiling":
        result = phase_ceiling(work)
    elif name == "quickstart":
        result = phase_quickstart(work)
    else:
        raise SystemExit(f"unknown phase {name}")
    print("RESULT " + json.dumps(result), flush=True)


# --- the parent -------------------------------------------------------------------------------
def run_phase(name: str, work: Path) -> dict:
    """Run one phase in a fresh process; its wall time and peak RSS (process tree) are measured here."""
    env = {**os.environ, "BYLINE_BENCH_WORK": str(work)}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, "--phase", name], stdout=subprocess.PIPE, env=env, cwd=ROOT, text=True)
    with RssSampler(proc.pid) as rss:
        stdout, _ = proc.communicate()
    wall = time.perf_counter() - t0
    result = phase_result(name, proc.returncode, stdout)
    result["process_wall_s"] = round(wall, 3)
    result["peak_rss_mib"] = mib(rss.peak)
    return result


def change_articles(corpus: Path, n: int) -> int:
    """Alter the text of `n` articles spread over the corpus copy; returns how many were changed."""
    files = sorted(p for p in corpus.rglob("*") if p.is_file())
    jsonl = [f for f in files if f.suffix.lower() == ".jsonl"]
    if jsonl:
        changed = 0
        for f in jsonl:
            lines = f.read_text(encoding="utf-8").splitlines()
            picks = _spread(len(lines), n - changed)
            for i in picks:
                row = json.loads(lines[i])
                row["text"] = f"{row.get('text', '')}\n\n{NOTE}"
                lines[i] = json.dumps(row, ensure_ascii=False)
            f.write_text("\n".join(lines) + "\n", encoding="utf-8")  # the modified copy
            changed += len(picks)
            if changed >= n:
                break
        return changed
    others = [f for f in files if f.suffix.lower() in (".md", ".txt", ".html", ".htm")]
    picks = _spread(len(others), n)
    for i in picks:
        f = others[i]
        text = f.read_text(encoding="utf-8")
        if f.suffix.lower() in (".html", ".htm") and "</body>" in text:
            text = text.replace("</body>", f"<p>{NOTE}</p></body>", 1)
        else:
            text = text.rstrip("\n") + f"\n\n{NOTE}\n"
        f.write_text(text, encoding="utf-8")
    return len(picks)


def _spread(total: int, n: int) -> list[int]:
    if total <= 0 or n <= 0:
        return []
    if n >= total:
        return list(range(total))
    return sorted({round(i * (total - 1) / (n - 1)) for i in range(n)}) if n > 1 else [0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Ingest benchmark: Byline full/incremental ingest, embedder ceiling, llama-index quickstart baseline.",
        epilog="Each phase runs in its own process; see the module docstring for exactly what is timed.",
    )
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus", help="folder or .jsonl file (default: corpus/)")
    parser.add_argument("--limit", type=int, help="only the first N articles (files of a folder, lines of a .jsonl)")
    parser.add_argument("--changed", type=int, default=10, help="articles to alter before the incremental re-ingest (default: 10)")
    parser.add_argument("--no-quickstart", action="store_true", help="skip the llama-index quickstart baseline")
    parser.add_argument("--no-ceiling", action="store_true", help="skip the bare-embedder ceiling")
    parser.add_argument("--keep", action="store_true", help="keep the temporary work folder (printed)")
    parser.add_argument("--out", type=Path, default=RESULTS / "ingest_bench.json", help="JSON results (default: benchmarks/results/ingest_bench.json)")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phase:
        run_phase_in_child(args.phase)
        return 0
    if not args.corpus.exists():
        parser.error(f"{args.corpus} does not exist")

    work = Path(tempfile.mkdtemp(prefix="byline-ingest-bench-"))
    load_before = machine()["load_average"]
    results: dict = {}
    try:
        sample_corpus(args.corpus, work / "corpus", args.limit)
        steps = [("full", True), ("unchanged", True), ("ceiling", not args.no_ceiling), ("quickstart", not args.no_quickstart)]
        for name, wanted in steps:
            if wanted:
                print(f"[{name}] …", file=sys.stderr, flush=True)
                results[name] = run_phase(name, work)
        n_changed = change_articles(work / "corpus", args.changed)
        print(f"[changed] {n_changed} articles altered …", file=sys.stderr, flush=True)
        results["changed"] = run_phase("changed", work)
        results["changed"]["articles_altered"] = n_changed
    finally:
        if args.keep:
            print(f"work folder kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)

    full = results["full"]
    summary = {
        "articles": full["articles_in_index"],
        "passages": full["passages"],
        "ingest_s": full["seconds"],
        "passages_per_s": full["passages_per_s"],
        "tokens_per_s": full["tokens_per_s"],
        "peak_rss_mib": full["peak_rss_mib"],
        "index_mib": mib(full["index_bytes"]),
        "reingest_unchanged_s": results["unchanged"]["seconds"],
        "reingest_changed_s": results["changed"]["seconds"],
    }
    if "ceiling" in results and "tokens_per_s" in results["ceiling"]:
        summary["ceiling_tokens_per_s"] = results["ceiling"]["tokens_per_s"]
        summary["share_of_ceiling"] = round(full["tokens_per_s"] / results["ceiling"]["tokens_per_s"], 3)
    if "quickstart" in results:
        q = results["quickstart"]
        summary["quickstart_s"] = q["seconds"]
        summary["quickstart_peak_rss_mib"] = q["peak_rss_mib"]
        summary["time_ratio_byline_over_quickstart"] = round(full["seconds"] / q["seconds"], 2)
        summary["rss_ratio_byline_over_quickstart"] = round(full["peak_rss_mib"] / q["peak_rss_mib"], 2)
    from byline.config import load_settings

    s = load_settings({"backend": "extractive"})
    data = {
        "benchmark": "ingest_bench",
        "corpus": rel(args.corpus),
        "limit": args.limit,
        "settings": {"embedder": s.embedder, "embed_threads": s.embed_threads, "embed_batch_size": s.embed_batch_size,
                     "ingest_batch_passages": s.ingest_batch_passages, "chunk_tokens": s.chunk_tokens},  # fmt: skip
        "summary": summary,
        "phases": results,
        "machine": {**machine(), "load_average_before": load_before},
        "note": "Each phase in its own process; peak RSS sampled every 50 ms over the process tree. Times exclude model loading (setup_s).",
    }
    out = write_result(args.out, data)

    print(f"\nIngest benchmark: {summary['articles']} articles from {rel(args.corpus)}" + (f" (first {args.limit})" if args.limit else ""))
    print(f"  full ingest        {full['seconds']:8.2f} s   {full['passages']} passages, {full['passages_per_s']} passages/s, "
          f"{full['tokens_per_s']:.0f} tokens/s, {full['embed_share']:.0%} of it in the embedder")  # fmt: skip
    print(f"                     setup (models, index) {full['setup_s']:.2f} s; peak RSS {full['peak_rss_mib']} MiB; index {summary['index_mib']} MiB; "
          f"BM25 build {full.get('bm25_build_s', 0):.2f} s")  # fmt: skip
    u, c = results["unchanged"], results["changed"]
    print(f"  re-ingest same     {u['seconds']:8.2f} s   {u['statuses']['skipped']} skipped, {u['passages']} passages written, {u['passages_embedded']} embedded")
    print(f"  re-ingest changed  {c['seconds']:8.2f} s   {c['statuses']['updated']} updated, {c['passages']} passages written, {c['passages_embedded']} embedded")
    if "ceiling_tokens_per_s" in summary:
        print(f"  embedder ceiling   {results['ceiling']['seconds']:8.2f} s   {summary['ceiling_tokens_per_s']:.0f} tokens/s "
              f"(Byline's ingest reaches {summary['share_of_ceiling']:.0%} of it)")  # fmt: skip
    if "quickstart_s" in summary:
        q = results["quickstart"]
        print(f"  llama-index quickstart {q['seconds']:4.2f} s   {q['chunks']} chunks, {q['tokens_per_s']:.0f} tokens/s, peak RSS {q['peak_rss_mib']} MiB, index {mib(q['index_bytes'])} MiB")
        print(f"  Byline / quickstart: time x{summary['time_ratio_byline_over_quickstart']}, peak RSS x{summary['rss_ratio_byline_over_quickstart']}")
    print_footer(load_before, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
