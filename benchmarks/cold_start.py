"""Cold start of the web chat: from launching `python app.py --port FREE` (index already built)
until the page answers HTTP 200 on /.

    uv run python benchmarks/cold_start.py                          # local model, bundled corpus, 3 launches
    uv run python benchmarks/cold_start.py --backend extractive --runs 5

How it measures
  * The corpus (default corpus/) is indexed once into a temporary folder with `python app.py
    ingest` (not timed), so every launch finds the index present.
  * Each launch starts `python app.py --port P --index-dir … --corpus-dir … --backend B` as a
    child process on 127.0.0.1 and polls GET http://127.0.0.1:P/ with httpx every 50 ms; the time
    is from just before the launch to the first 200 (ready_s). `serve` listens first and then
    loads the models, opens the index and, for the local backend, starts the llama.cpp server in
    the background; models_loaded_s is when it logs "Models loaded in …", from which the first
    question is answered without a load pause. RSS of the app's process tree at the 200 is
    recorded too. The child is then terminated and waited for.
  * Launches after the first find the files in the OS page cache; all are reported, with the median.

Results are printed and written to benchmarks/results/cold_start.json (--out).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import MODELS_LOADED, RESULTS, ROOT, free_port, wait_for_line, machine, mib, print_footer, rel, sample_corpus, stop_process, tree_rss, wait_for_200, write_result  # noqa: E402


def launch_once(base: list[str], timeout: float, log: Path) -> dict:
    port = free_port()
    cmd = [sys.executable, str(ROOT / "app.py"), "--port", str(port), *base]
    log.write_bytes(b"")
    with open(log, "ab") as fh:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            waited = wait_for_200(f"http://127.0.0.1:{port}/", proc, timeout)
            ready = None if waited is None else time.perf_counter() - t0
            rss = tree_rss(proc.pid) if ready is not None else None
            loaded = wait_for_line(log, MODELS_LOADED, proc, t0, timeout) if ready is not None else None
        finally:
            stop_process(proc)
    return {
        "ready_s": None if ready is None else round(ready, 3),
        "models_loaded_s": None if loaded is None else round(loaded, 3),
        "rss_mib": mib(rss),
        "exit_code_after_stop": proc.returncode,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Cold start: launch `python app.py` with an index present, time until GET / answers 200.")
    parser.add_argument("--backend", choices=["local", "extractive"], default="local", help="answer generator (default: local)")
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus", help="folder or .jsonl to index first (default: corpus/)")
    parser.add_argument("--corpus-limit", type=int, help="index only the first N articles")
    parser.add_argument("--runs", type=int, default=3, help="launches (default: 3)")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for one launch (default: 180)")
    parser.add_argument("--out", type=Path, default=RESULTS / "cold_start.json", help="JSON results (default: benchmarks/results/cold_start.json)")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="byline-cold-start-"))
    load_before = machine()["load_average"]
    runs = []
    try:
        corpus = sample_corpus(args.corpus, work / "corpus", args.corpus_limit)
        base = ["--index-dir", str(work / "index"), "--corpus-dir", str(corpus), "--backend", args.backend]
        t = time.perf_counter()
        done = subprocess.run([sys.executable, str(ROOT / "app.py"), "ingest", *base], cwd=ROOT, capture_output=True, text=True, timeout=3600)
        if done.returncode != 0:
            raise SystemExit(f"ingest failed: {done.stderr[-2000:]}")
        print(f"index built in {time.perf_counter() - t:.1f} s: {done.stderr.strip().splitlines()[-1]}", file=sys.stderr)
        for i in range(1, args.runs + 1):
            row = launch_once(base, args.timeout, work / "app.log")
            runs.append(row)
            print(f"[{i}/{args.runs}] ready in {row['ready_s']} s (RSS {row['rss_mib']} MiB)", file=sys.stderr)
        failed_log = (work / "app.log").read_text(errors="replace")[-3000:] if any(r["ready_s"] is None for r in runs) else ""
    finally:
        shutil.rmtree(work, ignore_errors=True)

    ready = [r["ready_s"] for r in runs if r["ready_s"] is not None]
    data = {
        "benchmark": "cold_start",
        "backend": args.backend,
        "corpus": rel(args.corpus),
        "corpus_limit": args.corpus_limit,
        "runs": runs,
        "median_ready_s": round(statistics.median(ready), 3) if ready else None,
        "median_models_loaded_s": _median([r["models_loaded_s"] for r in runs]),
        "first_ready_s": runs[0]["ready_s"] if runs else None,
        "failures": sum(r["ready_s"] is None for r in runs),
        "machine": {**machine(), "load_average_before": load_before},
        "env": {"PYTHONDONTWRITEBYTECODE": os.environ.get("PYTHONDONTWRITEBYTECODE"), "PYTHONPYCACHEPREFIX": os.environ.get("PYTHONPYCACHEPREFIX")},
        "note": "From Popen to the first HTTP 200 on / (ready) and to the log line that the background warm-up (models, index, local llama.cpp) is done (models loaded).",
    }
    if failed_log:
        data["app_log_tail"] = failed_log
    out = write_result(args.out, data)
    print(f"\nCold start ({args.backend} backend, {len(runs)} launches): median {data['median_ready_s']} s, first {data['first_ready_s']} s, failures {data['failures']}")
    print(f"  each: {[r['ready_s'] for r in runs]} s; RSS at ready {[r['rss_mib'] for r in runs]} MiB")
    print(f"  models loaded (first question without a load pause): median {data['median_models_loaded_s']} s, each {[r['models_loaded_s'] for r in runs]} s")
    print_footer(load_before, out)
    return 0 if not data["failures"] else 1


def _median(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 3) if values else None


if __name__ == "__main__":
    sys.exit(main())
