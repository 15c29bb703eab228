"""Load test: N concurrent askers against the web chat on 127.0.0.1 for a fixed time.

    uv run python benchmarks/load_test.py --backend extractive --users 20 --seconds 60
    uv run python benchmarks/load_test.py --backend local --users 20 --seconds 60
    uv run python benchmarks/load_test.py --via engine --backend extractive --users 20 --seconds 60
    uv run python benchmarks/load_test.py --via api --backend extractive --users 20 --seconds 60

How it measures
  * --via app (default): the corpus (default corpus/) is indexed into a temporary folder, then the
    real web chat is started as a child process (`python app.py --port P --host 127.0.0.1 …`, the
    same `serve` a user runs, with its Gradio queue and `concurrency` setting) and awaited (HTTP
    200 on /). Each simulated user is a thread with its own `gradio_client.Client`; before every
    question it calls `reset_session()` (a fresh conversation, so no history and no follow-up
    rewriting) and then `predict(..., api_name="/ask")`, which returns when the answer is complete.
    An answer whose rendered state is "error", or a raised exception, counts as an error.
  * --via api: the same child process; each user is an `openai.OpenAI` client posting
    non-streamed `chat.completions` (model "byline") to its /v1. An exception or an empty answer
    counts as an error.
  * --via engine: no web layer; the threads call `Engine.ask()` on one shared Engine in this process.
  * Questions are the standalone questions of --set (default evals/bundled.jsonl), round-robin,
    each user starting at a different offset.
  * Bounded: loopback only, at most --seconds (≤ 600) of new questions, at most --max-per-user
    questions per user, --users ≤ 64. Questions in flight when the time is up are awaited.
  * Throughput = completed answers / wall time from the first question to the last answer.
    Latency is per question, client side. RSS is sampled over the app's process tree (the llama.cpp
    child included); with --via engine over this process.

Results are printed and written to benchmarks/results/load_test.json (--out).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    RESULTS,
    ROOT,
    RssSampler,
    free_port,
    load_questions,
    machine,
    mib,
    p50_p95,
    print_footer,
    rel,
    sample_corpus,
    stop_process,
    wait_for_200,
    write_result,
)

MAX_SECONDS = 600
MAX_USERS = 64
_STATE = re.compile(r'<div class="byline-exchange" id="byline-ex-\d+" data-state="(\w+)">')
_MODE = re.compile(r'data-mode="([\w-]*)"')


def answer_state(page_html: str) -> tuple[str, str]:
    """(state, mode) of the last exchange in the rendered conversation."""
    html = page_html or ""
    states = _STATE.findall(html)
    modes = _MODE.findall(html)
    return (states[-1] if states else "none"), (modes[-1] if modes else "")


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.outcomes: dict[str, int] = {}
        self.last_done = 0.0

    def ok(self, latency: float, outcome: str) -> None:
        with self.lock:
            self.latencies.append(latency)
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
            self.last_done = time.perf_counter()

    def error(self, message: str) -> None:
        with self.lock:
            self.errors.append(message[:300])
            self.last_done = time.perf_counter()


class Clock:
    """Set when every user is ready (the barrier's action): the run starts then, and new questions stop at `deadline`."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.start = 0.0
        self.deadline = float("inf")

    def go(self) -> None:
        self.start = time.perf_counter()
        self.deadline = self.start + self.seconds


def app_user(url: str, user: int, questions: list[dict], backend: str, top_k: int, clock: Clock, max_n: int, tally: Tally, ready: threading.Barrier) -> None:
    from gradio_client import Client

    try:
        client = Client(url, verbose=False, download_files=False, analytics_enabled=False)
    except Exception as exc:  # noqa: BLE001 - a user that cannot connect is an error, not a crash
        tally.error(f"connect: {type(exc).__name__}: {exc}")
        ready.wait()
        return
    ready.wait()
    try:
        for i in range(max_n):
            if time.perf_counter() >= clock.deadline:
                break
            q = questions[(user + i) % len(questions)]["question"]
            client.reset_session()
            t0 = time.perf_counter()
            try:
                out = client.predict(q, backend, "", "", "", top_k, api_name="/ask")
            except Exception as exc:  # noqa: BLE001
                tally.error(f"{type(exc).__name__}: {exc}")
                continue
            latency = time.perf_counter() - t0
            page = out[0] if isinstance(out, (list, tuple)) else out
            state, mode = answer_state(page)
            if state in ("done", "refused"):
                tally.ok(latency, mode or state)
            else:
                tally.error(f"answer state {state!r}")
    finally:
        client.close()


def api_user(url: str, user: int, questions: list[dict], clock: Clock, max_n: int, tally: Tally, ready: threading.Barrier) -> None:
    """One OpenAI-API client: the real `openai` package against the chat server's /v1."""
    from openai import OpenAI

    client = OpenAI(base_url=url.rstrip("/") + "/v1", api_key="unused", max_retries=0, timeout=300)

    def ask(q: dict) -> str:
        r = client.chat.completions.create(model="byline", messages=[{"role": "user", "content": q["question"]}])
        if not (r.choices and r.choices[0].message.content):
            raise RuntimeError("empty answer")
        return (r.model_extra or {}).get("byline", {}).get("tier", "answer")

    ready.wait()
    try:
        ask_in_turn(ask, user, questions, clock, max_n, tally)
    finally:
        client.close()


def ask_in_turn(ask, user: int, questions: list[dict], clock: Clock, max_n: int, tally: Tally) -> None:
    """A user's questions one after another until the deadline; `ask(q)` returns the outcome or raises."""
    for i in range(max_n):
        if time.perf_counter() >= clock.deadline:
            break
        q = questions[(user + i) % len(questions)]
        t0 = time.perf_counter()
        try:
            outcome = ask(q)
        except Exception as exc:  # noqa: BLE001 - a failed question is an error, not a crash
            tally.error(f"{type(exc).__name__}: {exc}")
            continue
        tally.ok(time.perf_counter() - t0, outcome)


def engine_user(engine, user: int, questions: list[dict], clock: Clock, max_n: int, tally: Tally, ready: threading.Barrier) -> None:
    ready.wait()
    ask_in_turn(lambda q: engine.ask(q["question"], None, q.get("question_date")).mode, user, questions, clock, max_n, tally)


def run_users(target, args_for, users: int, clock: Clock) -> float:
    """Start the users, release them together once all are ready, wait for all; returns the end time."""
    barrier = threading.Barrier(users + 1, action=clock.go)
    threads = [threading.Thread(target=target, args=args_for(u, barrier), daemon=True, name=f"user-{u}") for u in range(users)]
    for t in threads:
        t.start()
    barrier.wait()
    for t in threads:
        t.join()
    return time.perf_counter()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Load test: concurrent askers against the web chat (or one shared Engine) on 127.0.0.1.")
    parser.add_argument("--backend", choices=["local", "extractive"], default="extractive", help="answer generator (default: extractive)")
    parser.add_argument("--users", type=int, default=20, help=f"concurrent askers (default: 20, at most {MAX_USERS})")
    parser.add_argument("--seconds", type=float, default=60, help=f"how long new questions are sent (default: 60, at most {MAX_SECONDS})")
    parser.add_argument("--max-per-user", type=int, default=200, help="questions per user at most (default: 200)")
    parser.add_argument("--via", choices=["app", "api", "engine"], default="app", help="the web chat through gradio_client (default), its OpenAI-compatible /v1 through the openai client, or Engine.ask() directly")
    parser.add_argument("--set", dest="qset", type=Path, default=ROOT / "evals" / "bundled.jsonl", help="questions (default: evals/bundled.jsonl)")
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus", help="folder or .jsonl to index (default: corpus/)")
    parser.add_argument("--corpus-limit", type=int, help="index only the first N articles")
    parser.add_argument("--top-k", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS / "load_test.json", help="JSON results (default: benchmarks/results/load_test.json)")
    args = parser.parse_args(argv)
    if not 1 <= args.users <= MAX_USERS:
        parser.error(f"--users must be 1..{MAX_USERS}")
    if not 0 < args.seconds <= MAX_SECONDS:
        parser.error(f"--seconds must be in (0, {MAX_SECONDS}]")
    questions = load_questions(args.qset)
    if not questions:
        parser.error(f"{args.qset} has no standalone questions")

    work = Path(tempfile.mkdtemp(prefix="byline-load-test-"))
    load_before = machine()["load_average"]
    tally = Tally()
    clock = Clock(args.seconds)
    proc = None
    engine = None
    try:
        corpus = sample_corpus(args.corpus, work / "corpus", args.corpus_limit)
        base = ["--index-dir", str(work / "index"), "--corpus-dir", str(corpus), "--backend", args.backend]
        if args.via in ("app", "api"):
            done = subprocess.run([sys.executable, str(ROOT / "app.py"), "ingest", *base], cwd=ROOT, capture_output=True, text=True, timeout=3600)
            if done.returncode != 0:
                raise SystemExit(f"ingest failed: {done.stderr[-2000:]}")
            port = free_port()
            url = f"http://127.0.0.1:{port}/"
            log = open(work / "app.log", "wb")
            proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--host", "127.0.0.1", "--port", str(port), *base],
                                    cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)  # fmt: skip
            if wait_for_200(url, proc, 300) is None:
                raise SystemExit(f"the app did not come up: {(work / 'app.log').read_text(errors='replace')[-2000:]}")
            print(f"app ready at {url}; {args.users} users for {args.seconds:.0f} s …", file=sys.stderr)
            sampler_pid = proc.pid

            if args.via == "api":

                def args_for(u, barrier):
                    return (url, u, questions, clock, args.max_per_user, tally, barrier)

                target = api_user
            else:

                def args_for(u, barrier):
                    return (url, u, questions, args.backend, args.top_k, clock, args.max_per_user, tally, barrier)

                target = app_user
        else:
            from byline import Engine
            from byline.config import load_settings

            engine = Engine(load_settings({"index_dir": work / "index", "corpus_dir": corpus, "backend": args.backend}))
            engine.start_local_model()
            engine.ingest()
            engine.warm_up()
            engine.ask(questions[0]["question"])
            print(f"engine ready; {args.users} users for {args.seconds:.0f} s …", file=sys.stderr)
            sampler_pid = os.getpid()

            def args_for(u, barrier):
                return (engine, u, questions, clock, args.max_per_user, tally, barrier)

            target = engine_user

        with RssSampler(sampler_pid, interval=0.2) as rss:
            rss_start = rss.sample()
            end = run_users(target, args_for, args.users, clock)
            rss_end = rss.sample()
    finally:
        if proc is not None:
            stop_process(proc)
        if engine is not None:
            engine.close()
        shutil.rmtree(work, ignore_errors=True)

    elapsed = max((tally.last_done or end) - clock.start, 1e-9)
    answers = len(tally.latencies)
    data = {
        "benchmark": "load_test",
        "via": args.via,
        "backend": args.backend,
        "users": args.users,
        "seconds": args.seconds,
        "max_per_user": args.max_per_user,
        "set": rel(args.qset),
        "corpus": rel(args.corpus),
        "answers": answers,
        "errors": len(tally.errors),
        "error_samples": tally.errors[:5],
        "outcomes": tally.outcomes,
        "elapsed_s": round(elapsed, 2),
        "throughput_answers_per_s": round(answers / elapsed, 3),
        "latency_s": p50_p95(tally.latencies),
        "rss_start_mib": mib(rss_start),
        "rss_end_mib": mib(rss_end),
        "rss_peak_mib": mib(rss.peak),
        "machine": {**machine(), "load_average_before": load_before},
        "note": "Loopback only. Latency client-side per question; throughput over the wall time from the first question to the last answer.",
    }
    out = write_result(args.out, data)
    lat = data["latency_s"]
    print(f"\nLoad test via {args.via}, {args.backend} backend: {args.users} users for {args.seconds:.0f} s")
    print(f"  answers {answers}, errors {len(tally.errors)}, throughput {data['throughput_answers_per_s']} answers/s over {data['elapsed_s']} s")
    if lat["p50"] is not None:
        print(f"  latency p50 {lat['p50']:.3f} s, p95 {lat['p95']:.3f} s; outcomes {tally.outcomes}")
    if tally.errors:
        print(f"  first errors: {tally.errors[:3]}")
    print(f"  RSS {data['rss_start_mib']} → {data['rss_end_mib']} MiB (peak {data['rss_peak_mib']} MiB)")
    print_footer(load_before, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
