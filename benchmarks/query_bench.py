"""Query latency by stage, time to first token and memory growth, optionally against the
llama-index quickstart query engine (top-2) in the same run.

    uv run python benchmarks/query_bench.py --set evals/bundled.jsonl                       # bundled corpus, local model
    uv run python benchmarks/query_bench.py --set evals/bundled.jsonl --backend extractive
    uv run python benchmarks/query_bench.py --set ../shared/benchmarks/realtimeqa/dev.jsonl \
        --corpus ../shared/benchmarks/realtimeqa/corpus.jsonl --index-dir indexes/rtqa-bench --baseline

How it measures
  * The corpus (default corpus/) is ingested into --index-dir (incremental, so a second run reuses
    it) or into a temporary folder that is removed afterwards. Ingest time is not part of the numbers.
  * The engine warms up as `python app.py` does (local model started, models loaded, BM25 built),
    then answers one warm-up question that is not measured.
  * Each standalone question of the set (follow-ups skipped; --limit N for the first N) is asked
    once through `Engine.stream` with its `question_date`. Stage times come from `answer.timings`
    (vector, bm25, fetch = fusion and the passage fetch, retrieval = the three; plan = retrieval
    plus evidence selection and refusal gates, as the engine measures it; evidence = plan minus
    retrieval, i.e. the cross-encoder scoring of the top passages' sentences and sentence pairs and
    the gates; answer = generation or quoting; total). Time to first token is the
    wall time until the first `Token` event (none with the extractive backend, which quotes).
  * RSS is the sum over this process and its children (the llama.cpp server), sampled every
    50 ms; growth is the RSS after the last question minus the RSS after warm-up.
  * --baseline: llama-index's quickstart over the same corpus (VectorStoreIndex on Chroma, default
    1024-token SentenceSplitter chunks, `as_query_engine(similarity_top_k=2, streaming=True)`) with
    the same embedder and, for --backend local, the same llama.cpp server; with --backend
    extractive it gets MockLLM (so its "generation" costs nothing). Its index is built in a
    temporary folder first (time reported, not counted).

Results are printed and written to benchmarks/results/query_bench.json (--out).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    QUICKSTART_TOP_K,
    RESULTS,
    ROOT,
    RssSampler,
    load_questions,
    machine,
    mib,
    p50_p95,
    print_footer,
    quickstart_ingest,
    rel,
    sample_corpus,
    tree_rss,
    write_result,
)

STAGES = ["vector", "bm25", "fetch", "retrieval", "plan", "evidence", "answer", "total"]
WARM_UP = "What happened this week?"


def time_byline(engine, q: dict) -> dict:
    from byline.types import Done, Token

    t0 = time.perf_counter()
    first = None
    answer = None
    for event in engine.stream(q["question"], None, q.get("question_date")):
        if first is None and isinstance(event, Token):
            first = time.perf_counter() - t0
        if isinstance(event, Done):
            answer = event.answer
    wall = time.perf_counter() - t0
    timings = dict(answer.timings)
    # Engine's "plan" runs from before retrieval to the end of planning; "evidence" is planning alone.
    if "plan" in timings and "retrieval" in timings:
        timings["evidence"] = max(0.0, timings["plan"] - timings["retrieval"])
    return {
        "id": q.get("id"),
        "question": q["question"],
        "wall_s": round(wall, 4),
        "first_token_s": None if first is None else round(first, 4),
        "mode": answer.mode,
        "refused": answer.refused,
        "timings": {k: round(v, 4) for k, v in timings.items()},
        "answer": answer.answer[:160],
    }


def time_quickstart(query_engine, q: dict) -> dict:
    t0 = time.perf_counter()
    response = query_engine.query(q["question"])
    retrieved = time.perf_counter() - t0  # query() returns once retrieval is done and the stream is open
    first = None
    text = ""
    gen = getattr(response, "response_gen", None)
    if gen is not None:
        for piece in gen:
            if first is None and piece:
                first = time.perf_counter() - t0
            text += piece
    else:
        text = str(response)
    wall = time.perf_counter() - t0
    return {
        "id": q.get("id"),
        "question": q["question"],
        "retrieval_s": round(retrieved, 4),
        "first_token_s": None if first is None else round(first, 4),
        "wall_s": round(wall, 4),
        "answer": text[:160],
    }


def summarize(rows: list[dict]) -> dict:
    out = {k: p50_p95([r["timings"].get(k) for r in rows]) for k in STAGES}
    out["first_token"] = p50_p95([r["first_token_s"] for r in rows])
    out["wall"] = p50_p95([r["wall_s"] for r in rows])
    return out


def _result(args, byline: dict, baseline: dict | None, load_before) -> dict:
    return {
        "benchmark": "query_bench",
        "backend": args.backend,
        "set": rel(args.qset),
        "corpus": rel(args.corpus),
        "corpus_limit": args.corpus_limit,
        "byline": byline,
        "quickstart": baseline,
        "machine": {**machine(), "load_average_before": load_before},
        "note": "Stage times from Answer.timings; first token = first Token event from Engine.stream; RSS over the process tree (llama.cpp child included).",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Query benchmark: per-stage p50/p95, time to first token, RSS growth; optional quickstart baseline.")
    parser.add_argument("--set", dest="qset", type=Path, required=True, help="question set (JSONL with question[, question_date])")
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus", help="folder or .jsonl to index (default: corpus/)")
    parser.add_argument("--corpus-limit", type=int, help="index only the first N articles of the corpus")
    parser.add_argument("--limit", type=int, help="only the first N standalone questions")
    parser.add_argument("--backend", choices=["local", "extractive"], default="local", help="answer generator (default: local)")
    parser.add_argument("--index-dir", type=Path, help="keep and reuse the index here (default: a temporary folder)")
    parser.add_argument("--baseline", action="store_true", help="also time the llama-index quickstart query engine (top-2)")
    parser.add_argument("--out", type=Path, default=RESULTS / "query_bench.json", help="JSON results (default: benchmarks/results/query_bench.json)")
    args = parser.parse_args(argv)

    from byline import Engine
    from byline.config import load_settings

    questions = load_questions(args.qset, args.limit)
    if not questions:
        parser.error(f"{args.qset} has no standalone questions")
    work = Path(tempfile.mkdtemp(prefix="byline-query-bench-"))
    index_dir = args.index_dir or work / "index"
    corpus = args.corpus
    if args.corpus_limit:
        corpus = sample_corpus(args.corpus, work / "corpus", args.corpus_limit)
    load_before = machine()["load_average"]
    baseline: dict | None = None
    try:
        settings = load_settings({"index_dir": index_dir, "corpus_dir": corpus, "backend": args.backend})
        engine = Engine(settings)
        t = time.perf_counter()
        engine.start_local_model()
        report = engine.ingest([Path(corpus)])
        print(f"index: {report.summary()}", file=sys.stderr)
        engine.warm_up()
        engine.ask(WARM_UP)
        ready_s = time.perf_counter() - t
        llama_pid = engine._local._proc.pid if engine._local._proc else None

        rss_start = tree_rss(os.getpid())
        rows = []
        with RssSampler() as rss:
            for i, q in enumerate(questions, 1):
                row = time_byline(engine, q)
                rows.append(row)
                ft = f"{row['first_token_s']:.3f}" if row["first_token_s"] is not None else "  -  "
                print(f"[{i:3}/{len(questions)}] total {row['timings']['total']:.3f} s  retrieval {row['timings']['retrieval']:.3f}  "
                      f"evidence {row['timings'].get('evidence', 0):.3f}  first token {ft}  {row['mode']:<10} {q['question'][:60]}", file=sys.stderr)  # fmt: skip
        rss_end = tree_rss(os.getpid())
        byline = {
            "questions": len(rows),
            "stages": summarize(rows),
            "modes": {m: sum(r["mode"] == m for r in rows) for m in sorted({r["mode"] for r in rows})},
            "rss_after_warm_up_mib": mib(rss_start),
            "rss_after_run_mib": mib(rss_end),
            "rss_growth_mib": mib(rss_end - rss_start),
            "rss_peak_mib": mib(rss.peak),
            "llama_server_rss_mib": mib(tree_rss(llama_pid)) if llama_pid else None,
            "ready_s": round(ready_s, 2),
            "per_question": rows,
        }

        write_result(args.out, _result(args, byline, None, load_before))  # kept even if the baseline is interrupted
        if args.baseline:
            from llama_index.core import Settings as LlamaSettings

            from byline.evaluation.baseline import make_llm

            llm = None
            if args.backend == "local":
                window = int(settings.llm_ctx // max(1, settings.llm_parallel) * 0.8)  # llama.cpp slot size, tiktoken margin
                llm = make_llm(engine.generator(settings), window, settings.max_answer_tokens)
            t = time.perf_counter()
            index, chunks = quickstart_ingest(Path(corpus), work / "quickstart", engine.embedding, llm)
            build_s = time.perf_counter() - t
            qe = index.as_query_engine(similarity_top_k=QUICKSTART_TOP_K, streaming=True, llm=LlamaSettings.llm)
            time_quickstart(qe, {"question": WARM_UP})
            base_rows = []
            rss_b0 = tree_rss(os.getpid())
            with RssSampler() as rss_b:
                for i, q in enumerate(questions, 1):
                    row = time_quickstart(qe, q)
                    base_rows.append(row)
                    print(f"[quickstart {i:3}/{len(questions)}] {row['wall_s']:.3f} s  {q['question'][:60]}", file=sys.stderr)
            rss_b1 = tree_rss(os.getpid())
            baseline = {
                "questions": len(base_rows),
                "llm": "Byline's generator (local llama.cpp)" if llm is not None else "MockLLM (no generation)",
                "index_build_s": round(build_s, 2),
                "chunks": chunks,
                "retrieval": p50_p95([r["retrieval_s"] for r in base_rows]),
                "first_token": p50_p95([r["first_token_s"] for r in base_rows]),
                "wall": p50_p95([r["wall_s"] for r in base_rows]),
                "rss_growth_mib": mib(rss_b1 - rss_b0),
                "rss_peak_mib": mib(rss_b.peak),
                "per_question": base_rows,
            }
        engine.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    out = write_result(args.out, _result(args, byline, baseline, load_before))

    st = byline["stages"]

    def fmt(d: dict) -> str:
        return "   -   " if d["p50"] is None else f"{d['p50']:.3f} / {d['p95']:.3f}"

    print(f"\nQuery benchmark: {len(rows)} questions from {rel(args.qset)}, backend {args.backend}  (p50 / p95, seconds)")
    for k in STAGES:
        print(f"  {k:<12} {fmt(st[k])}" + ("   (includes retrieval)" if k == "plan" else ""))
    print(f"  {'first token':<12} {fmt(st['first_token'])}   ({st['first_token']['n']} of {len(rows)} answers streamed tokens)")
    print(f"  modes: {byline['modes']}")
    print(f"  RSS after warm-up {byline['rss_after_warm_up_mib']} MiB, after run {byline['rss_after_run_mib']} MiB "
          f"(growth {byline['rss_growth_mib']} MiB, peak {byline['rss_peak_mib']} MiB; llama.cpp child {byline['llama_server_rss_mib']} MiB)")  # fmt: skip
    if baseline:
        print(f"  quickstart (top-{QUICKSTART_TOP_K}, {baseline['llm']}): retrieval {fmt(baseline['retrieval'])}, "
              f"first token {fmt(baseline['first_token'])}, end-to-end {fmt(baseline['wall'])}; RSS growth {baseline['rss_growth_mib']} MiB")  # fmt: skip
    print_footer(load_before, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
