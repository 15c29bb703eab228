"""Chat latency through the real web app: submit → first answer token, and submit → full answer.

    python benchmarks/chat_latency.py                 # local model, bundled corpus, 10 questions
    python benchmarks/chat_latency.py --backend extractive --questions 5

How it measures
  * The bundled corpus (corpus/*.md) is copied to a temporary folder and indexed there, so the
    repository's index/ is never touched. The engine starts the packaged local model and warms
    up exactly as `python app.py` does.
  * The chat is started as users start it, `python app.py --port P` in its own process on a free
    127.0.0.1 port, over that index, and timed once it logs that its models are loaded
    (--in-process: byline.ui.build_app launched inside this process instead).
  * Each question is sent with gradio_client's `Client.submit(..., api_name="/ask")` from a fresh
    client (a fresh browser session, so no conversation history and no follow-up rewriting), and
    the streamed job updates are read as they arrive. "First token" is the first update whose
    answer bubble has any text (the update before it only shows the question); "full answer" is
    the final update (the engine's Done, with sources). Both are wall-clock from just before
    `submit`, so they include the queue, the websocket/SSE transport and the HTML rendering.
  * Questions: the first 2N answerable, standalone questions of evals/bundled.jsonl (follow-ups and
    unanswerable ones skipped), after one warm-up question that is not among them.
  * For comparison, as many other questions of the set (every second one: the web app gets the
    1st, 3rd, …, the engine the 2nd, 4th, …) are timed directly on Engine.stream() (no Gradio),
    so the app's own overhead can be told apart from retrieval and generation. They are not the
    same questions because llama.cpp caches the prompts it has seen: a repeated question would
    be answered ~0.3 s sooner. The client runs in the app's process, so it also competes with
    the app for the interpreter lock; a browser would not.

Results are printed and written to benchmarks/results/chat_latency.json.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import MODELS_LOADED, free_port, stop_process, wait_for_200, wait_for_line  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

TARGET_FIRST_TOKEN_S = 0.8
_LAST_EXCHANGE = re.compile(r'<div class="byline-exchange" id="byline-ex-(\d+)" data-state="(\w+)">(.*?)(?=<div class="byline-exchange"|\Z)', re.S)
_ANSWER_TEXT = re.compile(r'<div class="byline-answer-text">(.*?)</div>', re.S)
_MODE = re.compile(r'data-mode="([\w-]*)"')


def load_questions(path: Path, n: int) -> tuple[str, list[str]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    pool = [r["question"] for r in rows if not r.get("follow_up_of") and not r.get("unanswerable")]
    if len(pool) < n + 1:
        raise SystemExit(f"{path} has only {len(pool)} standalone answerable questions; need {n + 1}")
    return pool[n], pool[:n]  # warm-up question, measured questions


def answer_state(page_html: str) -> tuple[str, str, str]:
    """(state, answer text, mode) of the last exchange in the rendered conversation."""
    exchanges = _LAST_EXCHANGE.findall(page_html or "")
    if not exchanges:
        return "none", "", ""
    _, state, body = exchanges[-1]
    m = _ANSWER_TEXT.search(body)
    text = html.unescape(re.sub(r"<[^>]+>", "", m.group(1))) if m else ""
    mode = _MODE.search(body)
    return state, text, mode.group(1) if mode else ""


def time_through_app(url: str, question: str, backend: str, top_k: int) -> dict:
    from gradio_client import Client

    client = Client(url, verbose=False, download_files=False)  # a fresh session: no history
    t0 = time.perf_counter()
    job = client.submit(question, backend, "", "", "", top_k, api_name="/ask")
    first = None
    last = t0
    updates = 0
    state = text = mode = ""
    for output in job:
        now = time.perf_counter()
        updates += 1
        state, text, mode = answer_state(output[0] if isinstance(output, (list, tuple)) else output)
        if first is None and text.strip():
            first = now - t0
        last = now
    client.close()
    return {
        "question": question,
        "first_token_s": round(first, 4) if first is not None else None,
        "full_answer_s": round(last - t0, 4),
        "updates": updates,
        "state": state,
        "mode": mode,
        "answer": text[:200],
    }


def time_engine(engine, question: str, top_k: int) -> dict:
    from byline.types import Done, Token

    t0 = time.perf_counter()
    first = None
    answer = None
    for event in engine.stream(question, None, None, top_k=top_k):
        if first is None and isinstance(event, (Token, Done)):
            first = time.perf_counter() - t0
        if isinstance(event, Done):
            answer = event.answer
    total = time.perf_counter() - t0
    return {
        "question": question,
        "first_token_s": round(first, 4),
        "full_answer_s": round(total, 4),
        "mode": answer.mode if answer else "",
        "timings": {k: round(v, 4) for k, v in (answer.timings if answer else {}).items()},
    }


def median(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return round(statistics.median(vals), 4) if vals else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default="local", choices=["local", "extractive"], help="answer generator (default: local)")
    parser.add_argument("--questions", type=int, default=10, help="measured questions (default: 10)")
    parser.add_argument("--eval-set", type=Path, default=ROOT / "evals" / "bundled.jsonl")
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    parser.add_argument("--top-k", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "chat_latency.json")
    parser.add_argument("--no-engine-baseline", action="store_true", help="skip the direct Engine.stream() timings")
    parser.add_argument("--in-process", action="store_true", help="launch the app inside this process (shares the interpreter lock with the client)")
    args = parser.parse_args(argv)

    from byline import Engine
    from byline.config import load_settings
    from byline.ui import build_app, close_app, launch

    # Alternate questions between the two passes: llama.cpp keeps the prompts it has seen, so a
    # question timed a second time would find its prompt cached and look ~0.3 s faster.
    warm_q, pool = load_questions(args.eval_set, 2 * args.questions)
    questions, engine_questions = pool[0::2], pool[1::2]
    work = Path(tempfile.mkdtemp(prefix="byline-bench-"))
    try:
        shutil.copytree(args.corpus, work / "corpus")
        settings = load_settings({"index_dir": work / "index", "corpus_dir": work / "corpus", "backend": args.backend, "top_k": args.top_k})
        engine = Engine(settings)
        t = time.perf_counter()
        engine.start_local_model()
        report = engine.ingest()
        engine.warm_up()
        print(f"indexed {report.summary()}; models ready in {time.perf_counter() - t:.1f} s", file=sys.stderr)

        app = proc = None
        if args.in_process:
            app = build_app(engine)
            _, url = launch(app, engine, host="127.0.0.1", port=free_port())
        else:
            # The chat as users run it: its own process (`python app.py`), so this client does not
            # compete with the app for the interpreter lock.
            port = free_port()
            cmd = [sys.executable, str(ROOT / "app.py"), "--port", str(port), "--index-dir", str(work / "index"),
                   "--corpus-dir", str(work / "corpus"), "--backend", args.backend]  # fmt: skip
            proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=open(work / "app.log", "wb"), stdin=subprocess.DEVNULL)
            url = f"http://127.0.0.1:{port}/"
            if wait_for_200(url, proc, 180) is None:
                raise SystemExit(f"the app did not start: {(work / 'app.log').read_text(errors='replace')[-2000:]}")
            wait_for_line(work / "app.log", MODELS_LOADED, proc, time.perf_counter(), 180)
        load_before = os.getloadavg()
        try:
            print(f"warm-up: {warm_q}", file=sys.stderr)
            time_through_app(url, warm_q, args.backend, args.top_k)
            rows = []
            for i, q in enumerate(questions, 1):
                row = time_through_app(url, q, args.backend, args.top_k)
                rows.append(row)
                print(f"[{i:2}/{len(questions)}] first token {row['first_token_s']:.3f} s  full {row['full_answer_s']:.3f} s  {row['mode']:<10} {q}", file=sys.stderr)
            if proc is not None:
                stop_process(proc)  # its llama.cpp server too: the engine pass below has its own
                proc = None
            engine_rows = []
            if not args.no_engine_baseline:
                time_engine(engine, warm_q, args.top_k)
                engine_rows = [time_engine(engine, q, args.top_k) for q in engine_questions]
        finally:
            if app is not None:
                close_app(app)
            if proc is not None:
                stop_process(proc)
            load_after = os.getloadavg()
            engine.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    result = {
        "benchmark": "chat_latency",
        "method": "gradio_client Client.submit(api_name='/ask') against the app on 127.0.0.1 ("
        + ("byline.ui.build_app launched in-process" if args.in_process else "`python app.py` in its own process")
        + "); "
        "streamed job updates timed from submit; a fresh client (session) per question; median over the questions after one warm-up; "
        "the engine-only pass uses the other half of the questions (alternating) so no prompt is served from llama.cpp's cache",
        "backend": args.backend,
        "corpus": str(args.corpus.relative_to(ROOT) if args.corpus.is_relative_to(ROOT) else args.corpus),
        "eval_set": str(args.eval_set.relative_to(ROOT) if args.eval_set.is_relative_to(ROOT) else args.eval_set),
        "questions": len(rows),
        "warm_up_question": warm_q,
        "median_first_token_s": median([r["first_token_s"] for r in rows]),
        "median_full_answer_s": median([r["full_answer_s"] for r in rows]),
        "target_first_token_s": TARGET_FIRST_TOKEN_S,
        "per_question": rows,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in load_after],
        },
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    result["meets_target"] = result["median_first_token_s"] is not None and result["median_first_token_s"] <= TARGET_FIRST_TOKEN_S
    if engine_rows:
        stages = sorted({k for r in engine_rows for k in r["timings"]})
        result["engine_only"] = {
            "median_first_token_s": median([r["first_token_s"] for r in engine_rows]),
            "median_full_answer_s": median([r["full_answer_s"] for r in engine_rows]),
            "median_stage_s": {k: median([r["timings"].get(k) for r in engine_rows]) for k in stages},
            "per_question": engine_rows,
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    print(f"\nChat latency through the web app ({args.backend} backend, median of {len(rows)} questions after one warm-up)")
    print(f"  submit → first token : {result['median_first_token_s']:.3f} s   (target ≤ {TARGET_FIRST_TOKEN_S} s: {'met' if result['meets_target'] else 'NOT met'})")
    print(f"  submit → full answer : {result['median_full_answer_s']:.3f} s")
    if engine_rows:
        e = result["engine_only"]
        print(f"  engine alone         : first token {e['median_first_token_s']:.3f} s, full answer {e['median_full_answer_s']:.3f} s")
        print("  engine stages (median): " + ", ".join(f"{k} {v:.3f} s" for k, v in e["median_stage_s"].items() if v is not None))
    print(f"  load average before/after: {result['machine']['load_average_before']} / {result['machine']['load_average_after']} on {os.cpu_count()} CPUs")
    print(f"  written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
