"""Thumbs up / down from the page, kept in a local `feedback.jsonl`, and `app.py eval --set
feedback.jsonl`: the thumbs-down answers asked again, as a report of what went wrong.

One JSON line per verdict: `time, verdict ("up"/"down"), question, searched (a follow-up's
rewrite), answer, tier, mode, backend, citations [{n, article_id, title, url, sentence}]`.
Feedback has no accepted answers, so it is not scored like a question set: the report lists each
thumbs-down answer next to what Byline answers now, with the tier and sources of both.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path
from typing import Any

_LOCK = threading.Lock()  # page sessions write from several worker threads


def record(exchange, verdict: str, backend: str) -> dict[str, Any]:
    """The line written for one verdict on one finished exchange (ui.Exchange)."""
    return {
        "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "verdict": verdict,
        "question": exchange.question,
        "searched": exchange.standalone or None,
        "answer": exchange.text,
        "tier": exchange.tier or ("refused" if exchange.refused else ""),
        "mode": exchange.mode,
        "backend": backend,
        "citations": [
            {"n": c.n, "article_id": c.article_id, "title": c.title, "url": c.url or None,
             "sentence": c.passage[c.highlight_start : c.highlight_end] if c.highlight_end > c.highlight_start else None}  # fmt: skip
            for c in exchange.citations
        ],
    }


def append(path: Path, line: dict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _LOCK, path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(line, ensure_ascii=False) + "\n")


def is_feedback_file(path: Path) -> bool:
    """A feedback file: its first non-empty line is a JSON object with a "verdict"."""
    try:
        with Path(path).open(encoding="utf-8-sig") as f:
            for line in f:
                if line.strip():
                    data = json.loads(line)
                    return isinstance(data, dict) and "verdict" in data
    except (OSError, ValueError):
        return False
    return False


def thumbs_down(path: Path) -> tuple[list[dict], list[str]]:
    """The thumbs-down lines, and a message for each line that could not be read."""
    downs, bad = [], []
    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8-sig").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except ValueError:
            bad.append(f"{path}:{lineno}: not valid JSON")
            continue
        if not isinstance(data, dict) or not str(data.get("question", "")).strip():
            bad.append(f"{path}:{lineno}: no question")
        elif data.get("verdict") == "down":
            downs.append(data)
    return downs, bad


def evaluate(path: Path, engine, out: Path, err) -> int:
    """Ask every thumbs-down question again; write report.md and results.json under `out`."""
    downs, bad = thumbs_down(path)
    for message in bad:
        err.print(f"[yellow]{message}[/yellow]")
    engine.start_local_model()
    engine.ensure_index()
    rows = []
    for d in downs:
        question = d.get("searched") or d["question"]  # the rewrite stands on its own; its history is gone
        try:
            now = engine.ask(question)
            rows.append({"then": d, "now": {"answer": now.answer, "tier": now.tier, "mode": now.mode, "citations": [c.title for c in now.citations]}})
        except Exception as exc:  # noqa: BLE001 - one question must not sink the report
            rows.append({"then": d, "now": {"answer": "", "tier": "error", "mode": "error", "citations": [], "error": f"{type(exc).__name__}: {exc}"[:300]}})
    out.mkdir(parents=True, exist_ok=True)
    summary = {"feedback_lines_down": len(downs), "unreadable_lines": len(bad),
               "tier_then": _count(r["then"].get("tier") for r in rows), "tier_now": _count(r["now"]["tier"] for r in rows),
               "changed": sum(r["now"]["answer"] != r["then"].get("answer") for r in rows)}  # fmt: skip
    (out / "results.json").write_text(json.dumps({"set": str(path), "summary": summary, "rows": rows}, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "report.md").write_text(_markdown(path, summary, rows), encoding="utf-8")
    err.print(f"{len(downs)} thumbs-down answer(s) asked again; {summary['changed']} now differ. Wrote {out / 'report.md'}, {out / 'results.json'}")
    return 0


def _count(values) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v or "?"] = out.get(v or "?", 0) + 1
    return out


def _cell(text: Any, width: int = 160) -> str:
    s = " ".join(str(text or "").split()).replace("|", "\\|")
    return s if len(s) <= width else s[: width - 1] + "…"


def _markdown(path: Path, summary: dict, rows: list[dict]) -> str:
    lines = [
        "# What went wrong: thumbs-down answers",
        "",
        f"- Feedback file: `{path}`; {summary['feedback_lines_down']} thumbs-down answer(s), asked again now.",
        f"- Tiers then: {summary['tier_then']}; now: {summary['tier_now']}; {summary['changed']} answer(s) changed.",
        "",
        "| when | question | answer then (tier, sources) | answer now (tier, sources) |",
        "|---|---|---|---|",
    ]
    for r in rows:
        then, now = r["then"], r["now"]
        then_src = ", ".join(c.get("title", "") for c in then.get("citations", []) if isinstance(c, dict))
        lines.append(
            f"| {_cell(then.get('time', ''), 25)} | {_cell(then['question'], 90)} "
            f"| {_cell(then.get('answer', ''))} ({then.get('tier') or '?'}; {_cell(then_src, 60)}) "
            f"| {_cell(now.get('error') or now['answer'])} ({now['tier']}; {_cell(', '.join(now['citations']), 60)}) |"
        )
    if not rows:
        lines.append("| – | no thumbs-down answers | | |")
    return "\n".join(lines) + "\n"
