"""Prompt evaluation speed of the local model: the packaged Q4_1 GGUF against its Q8_0 copy.

    uv run python benchmarks/llama_prompt.py                 # 20 prompts from corpus/, each model
    uv run python benchmarks/llama_prompt.py --prompts 40

How it measures
  * For each model file, Byline's own LocalServer starts llama.cpp as in the app (same threads,
    slots and prompt-cache cap); only `llm_widen_q8` differs. The Q8_0 copy is made first if missing
    (its one-off conversion time is reported).
  * Each prompt is Byline's single-passage answer prompt: the system prompt, an article title, two
    sentences of a bundled article and a question about them, about 90 tokens. Every prompt is
    different, so llama.cpp's prompt cache only holds the shared system prompt, as in real use.
  * One completion token is asked for (`max_tokens` 1); llama.cpp's own `timings` give the prompt
    tokens and milliseconds; the wall time of the request is reported as the time to first token.
  * The first two prompts of each model are a warm-up and are not counted.

Results are printed and written to benchmarks/results/llama_prompt.json (--out).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, ROOT, machine, print_footer, write_result  # noqa: E402

WARM_UP = 2


def prompts_from(corpus: Path, n: int) -> list[list[dict]]:
    from byline.corpus import Article, read_articles
    from byline.nltk_data import sentence_spans

    system = (ROOT / "prompts" / "answer_system.txt").read_text().strip()
    template = (ROOT / "prompts" / "answer_user.txt").read_text()
    pairs = []
    for article in read_articles([corpus]):
        if not isinstance(article, Article):
            continue
        spans = sentence_spans(article.text)
        pairs += [(article.title, article.text[spans[i][0] : spans[i + 1][1]]) for i in range(0, len(spans) - 1, 2)]
    out = []
    for i in range(n + WARM_UP):
        title, passage = pairs[i % len(pairs)]
        question = f"What does the article say in part {i}?"  # distinct prompts: no cache hit past the system prompt
        user = template.format(passages=f"Article: {title}\nPassage: {passage}", question=question)
        out.append([{"role": "system", "content": system}, {"role": "user", "content": user}])
    return out


def measure(widen: bool, prompts: list[list[dict]]) -> dict:
    import httpx

    from byline.config import load_settings
    from byline.gguf_widen import widened_path
    from byline.llm import LocalServer

    settings = load_settings().model_copy(update={"llm_widen_q8": widen})
    server = LocalServer(settings)
    copy_existed = widened_path(server.model_path, settings.model_cache_dir).is_file()
    t0 = time.perf_counter()
    base = server.base_url()
    start_s = time.perf_counter() - t0
    rows = []
    try:
        for messages in prompts:
            t = time.perf_counter()
            r = httpx.post(f"{base}/chat/completions", json={"messages": messages, "max_tokens": 1, "temperature": 0}, timeout=120).json()
            wall = time.perf_counter() - t
            timings = r.get("timings", {})
            rows.append({"prompt_tokens": timings.get("prompt_n"), "prompt_ms": timings.get("prompt_ms"), "wall_s": wall})
    finally:
        server.stop()
    rows = rows[WARM_UP:]
    tokens = sum(x["prompt_tokens"] or 0 for x in rows)
    ms = sum(x["prompt_ms"] or 0 for x in rows)
    return {
        "model": "Q8_0 copy" if widen else "packaged Q4_1",
        "server_start_s": round(start_s, 2),
        "includes_conversion": widen and not copy_existed,
        "prompts": len(rows),
        "mean_prompt_tokens": round(tokens / len(rows), 1),
        "prompt_tokens_per_s": round(tokens / (ms / 1000), 1) if ms else None,
        "first_token_p50_s": round(statistics.median(x["wall_s"] for x in rows), 3),
        "first_token_max_s": round(max(x["wall_s"] for x in rows), 3),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    ap.add_argument("--prompts", type=int, default=20)
    ap.add_argument("--out", type=Path, default=RESULTS / "llama_prompt.json")
    args = ap.parse_args(argv)
    load_before = machine()["load_average"]
    prompts = prompts_from(args.corpus, args.prompts)
    results = [measure(False, prompts), measure(True, prompts)]
    q4, q8 = results
    ratio = round(q8["prompt_tokens_per_s"] / q4["prompt_tokens_per_s"], 2) if q4["prompt_tokens_per_s"] and q8["prompt_tokens_per_s"] else None
    for r in results:
        print(f"{r['model']:>14}: {r['prompt_tokens_per_s']} prompt tokens/s over {r['prompts']} prompts of ~{r['mean_prompt_tokens']} tokens; "
              f"first token p50 {r['first_token_p50_s']} s; server start {r['server_start_s']} s" + (" (with conversion)" if r["includes_conversion"] else ""))
    print(f"Q8_0 / Q4_1 prompt speed: {ratio}×")
    out = write_result(args.out, {"machine": machine(), "results": results, "q8_over_q4": ratio})
    print_footer(load_before, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
