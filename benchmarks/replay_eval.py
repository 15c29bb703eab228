"""Replay a capable model's hand-written replies (evals/replies.jsonl) through Byline's
`openai-compatible` backend and score its sentence-level verification, ALCE-style.

    uv run python benchmarks/replay_eval.py [--replies evals/replies.jsonl] [--dump FILE]

For every reply the replay server (tests/support/replay_openai.py) answers as a capable model
would, citing `[n]` from exact phrases of the passages it was given. Reported:
- faithful kept: share of all-true replies kept as `generated`, with an accepted answer and a
  gold article cited;
- planted caught: share of false sentences marked unsupported or removed (the whole answer
  falling back to a quote removes them);
- citation recall: share of the faithful replies' sentences whose citations include a passage
  holding the reply's cite phrase; citation precision: share of their citations that hold it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
RTQA = ROOT.parent / "shared" / "benchmarks" / "realtimeqa"


def run(replies_path: Path, only: str | None = None, index_dir: Path | None = None) -> list[dict]:
    """One scored row per reply; `index_dir`'s parent gets the evaluation indexes (default: the repo's)."""
    from byline.config import load_settings
    from byline.evaluation.pipelines import BylinePipeline
    from support.replay_openai import ReplayOpenAIServer, load_replies

    from byline.types import Turn

    replies = load_replies(replies_path)
    questions = _questions()
    parents = {qid: questions[q["follow_up_of"]]["question"] for qid, q in questions.items() if q.get("follow_up_of") in questions}
    dates = {qid: q.get("question_date") for qid, q in questions.items()}
    rows = []
    with ReplayOpenAIServer(replies_path) as server:
        overrides = {"backend": "openai-compatible", "base_url": server.base_url, "model": server.model, "api_key": "replay"}
        base = load_settings(overrides | ({"index_dir": str(index_dir)} if index_dir else {}))
        for set_name, corpus in (("bundled", ROOT / "corpus"), ("realtimeqa", RTQA / "corpus.jsonl")):
            chosen = [r for r in replies if r["set"] == set_name and not r.get("refuse") and (only is None or only == set_name)]
            if not chosen or not corpus.exists():
                continue
            pipe = BylinePipeline(base, corpus)
            pipe.prepare()
            for r in chosen:
                # A follow-up is asked after the question it follows, as the chat would ask it.
                history = [Turn(parents[r["qid"]], "")] if r.get("qid") in parents else None
                answer = pipe.engine.ask(r["question"], history=history, question_date=dates.get(r.get("qid")) if set_name == "realtimeqa" else None)
                rows.append(_score(r, answer))
            pipe.close()
    return rows


def _questions() -> dict[str, dict]:
    """Every question a reply may answer (`qid`), by id: the question sets in evals/ and
    RealTimeQA dev, whose ids do not overlap."""
    by_id: dict[str, dict] = {}
    paths = [p for p in sorted((ROOT / "evals").glob("*.jsonl")) if not p.name.startswith("replies")] + [RTQA / "dev.jsonl"]
    for path in paths:
        if path.exists():
            by_id.update({q["id"]: q for q in map(json.loads, filter(str.strip, path.open(encoding="utf-8")))})
    return by_id


def _sentence_key(text: str) -> str:
    import re

    from support.replay_openai import normalise_text

    return normalise_text(re.sub(r"\s*\[\d+\]", "", text)).rstrip(" .")


def _score(reply: dict, answer) -> dict:
    """One replayed reply against what Byline showed: each of the reply's sentences is matched to
    the checked sentence Byline kept (supported or marked unsupported), or counts as removed when
    the answer fell back to a quote."""
    from byline.evaluation.metrics import contains_answer
    from support.replay_openai import find_passages

    gold = set(reply["sources"])
    by_text = {_sentence_key(x.text): x for x in answer.sentences} if answer.mode == "generated" else {}
    cites = {c.n: c for c in answer.citations}
    out = []
    for s in reply["sentences"]:
        got = by_text.get(_sentence_key(s["text"]))
        # The citations whose passage holds the reply's cite phrase.
        holding = [n for n in (got.citations if got else []) if s.get("cite") and n in cites and find_passages(s["cite"], {n: cites[n].passage})]
        out.append({"true": s["true"], "error": s.get("error"), "kept": got is not None, "supported": bool(got and got.supported),
                    "citations": list(got.citations) if got else [], "citations_holding": holding, "reason": got.reason if got else ""})  # fmt: skip
    faithful = all(s["true"] for s in reply["sentences"])
    return {
        "id": reply["id"], "set": reply["set"], "question": reply["question"], "faithful": faithful, "mode": answer.mode, "tier": answer.tier,
        "answer": answer.answer, "correct": contains_answer(answer.answer, reply["answers"]), "cites_gold": any(c.article_id in gold for c in answer.citations),
        "sentences": out,
    }  # fmt: skip


def summarize(rows: list[dict]) -> dict:
    faithful = [r for r in rows if r["faithful"]]
    kept = [r for r in faithful if r["mode"] == "generated" and r["correct"] and r["cites_gold"] and all(s["supported"] for s in r["sentences"])]
    planted = [s for r in rows for s in r["sentences"] if not s["true"]]
    caught = [s for s in planted if not s["supported"]]
    fs = [s for r in faithful for s in r["sentences"] if s["kept"]]
    recall = sum(bool(s["citations_holding"]) for s in fs) / max(1, len(fs))
    n_cites = sum(len(s["citations"]) for s in fs)
    precision = sum(len(s["citations_holding"]) for s in fs) / max(1, n_cites)
    wrong_cite = [s for r in rows for s in r["sentences"] if s["error"] == "wrong_citation"]
    return {
        "replies": len(rows), "faithful": len(faithful), "faithful_kept": round(len(kept) / max(1, len(faithful)), 3),
        "planted_claims": len(planted), "planted_caught": round(len(caught) / max(1, len(planted)), 3),
        "citation_recall": round(recall, 3), "citation_precision": round(precision, 3),
        "wrong_citations_recited": round(sum(bool(s["citations_holding"]) for s in wrong_cite) / max(1, len(wrong_cite)), 3),
    }  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--replies", type=Path, default=ROOT / "evals" / "replies.jsonl")
    ap.add_argument("--only", choices=["bundled", "realtimeqa"])
    ap.add_argument("--dump", type=Path, default=ROOT / "benchmarks" / "results" / "replay_eval.json")
    args = ap.parse_args()
    rows = run(args.replies, args.only)
    summary = summarize(rows)
    for r in rows:
        bad = [s for s in r["sentences"] if s["true"] != s["supported"]]
        if bad or (r["faithful"] and r["mode"] != "generated"):
            print(f"- {r['id']} {r['mode']}/{r['tier']}: {r['answer'][:150]!r} " + "; ".join(f"{s['error'] or 'true'}→{'supported' if s['supported'] else s['reason'] or 'removed'}" for s in r["sentences"]))
    print(json.dumps(summary, indent=1))
    args.dump.parent.mkdir(parents=True, exist_ok=True)
    args.dump.write_text(json.dumps({"summary": summary, "rows": rows}, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
