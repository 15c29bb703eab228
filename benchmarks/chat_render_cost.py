"""What one streamed token costs the web chat at turn 1 and at turn 20 (issue #14).

    uv run python benchmarks/chat_render_cost.py

The chat's answer handler yields the conversation HTML after every token; Gradio sends each
streamed value as a diff against the previous one (`gradio.utils.diff`: an "append" when the new
string extends the old one, a "replace" otherwise). This measures, for a conversation of 0 and of
19 finished exchanges (real-sized: a quoted answer with three cited passages each) and a 40-token
answer streaming after them:
- server time per token: the handler's rendering plus Gradio's diff;
- bytes sent per token: the JSON of that diff.
"now" is the shipped rendering (the streaming exchange left open, earlier exchanges rendered once);
"before" is session 7's (the whole conversation, closed, rendered on every token).
Results are printed and written to benchmarks/results/chat_render_cost.json.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, machine, write_result  # noqa: E402


def _finished(i: int):
    from byline.types import Answer, Citation
    from byline.ui import Exchange

    passage = ("The Putin-Biden summit was held in Geneva in June 2021. " * 12).strip()
    cites = [Citation(n, f"00{n}_article", f"Headline number {n} about the talks", "", "2022-01-0{n}", "RBC", passage, 1.0, f"a#{n}", 0, 55) for n in (1, 2, 3)]
    ex = Exchange(question=f"Question {i}: when was the Geneva summit?")
    ex.apply(Answer(ex.question, "June 2021 — “The Putin-Biden summit was held in Geneva in June 2021.” [1]", False, cites, "extractive", tier="answer", short_answer="June 2021"))
    return ex


def measure(turn: int, mode: str, tokens: int = 40) -> dict:
    from gradio.utils import diff

    from byline.ui import Exchange, render_conversation, render_exchange

    exchanges = [_finished(i) for i in range(turn - 1)]
    live = Exchange(question="how long did the call last")
    earlier = "".join(render_exchange(e, i) for i, e in enumerate(exchanges))
    exchanges.append(live)
    prev = render_conversation(exchanges, streaming=True, earlier=earlier) if mode == "now" else render_conversation(exchanges)
    times, sizes = [], []
    for k in range(tokens):
        t0 = time.perf_counter()
        live.text += f" word{k}"
        new = render_conversation(exchanges, streaming=True, earlier=earlier) if mode == "now" else render_conversation(exchanges)
        edits = diff(prev, new)
        times.append(time.perf_counter() - t0)
        sizes.append(len(json.dumps(edits)))
        prev = new
    times.sort()
    return {"turn": turn, "mode": mode, "server_us_per_token_p50": round(times[len(times) // 2] * 1e6, 1), "bytes_per_token_median": sorted(sizes)[len(sizes) // 2]}


def main() -> int:
    rows = [measure(turn, mode) for mode in ("before", "now") for turn in (1, 20)]
    for r in rows:
        print(f"{r['mode']:>6} turn {r['turn']:>2}: {r['server_us_per_token_p50']:>8.1f} µs and {r['bytes_per_token_median']:>7,} bytes per token")
    out = write_result(RESULTS / "chat_render_cost.json", {"benchmark": "chat_render_cost", "rows": rows, "machine": machine()})
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
