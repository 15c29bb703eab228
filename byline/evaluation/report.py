"""The run's outputs: report.md (summary side by side, failures), results.json, chart.png, and a
console table."""

from __future__ import annotations

import json
from pathlib import Path

from byline.evaluation.metrics import Row, failures

# (key in the summary, label, format)
METRICS: list[tuple[str, str, str]] = [
    ("hit@1", "Retrieval hit@1", "pct"),
    ("hit@5", "Retrieval hit@5", "pct"),
    ("hit@10", "Retrieval hit@10", "pct"),
    ("mrr@10", "MRR@10", "num"),
    ("answer_accuracy", "Answer accuracy (answer tier, answerable)", "pct"),
    ("answered_right", "Answered right (answer tier, gold cited)", "pct"),
    ("shown", "Shown (answer or closest tier, gold cited)", "pct"),
    ("closest_tier", "Closest tier (all questions)", "pct"),
    ("unanswerable_confident", "Unanswerable given a confident answer", "pct"),
    ("citation_accuracy", "Citation accuracy (cites a gold article)", "pct"),
    ("citation_precision", "Citation precision", "pct"),
    ("refusal_accuracy", "Unanswerable kept out of the answer tier", "pct"),
    ("false_refusals", "Answerable refused (false refusals)", "pct"),
    ("latency_p50_s", "Latency p50, engine (s)", "sec"),
    ("latency_p95_s", "Latency p95, engine (s)", "sec"),
    ("wall_p50_s", "Latency p50, wall (s)", "sec"),
    ("wall_p95_s", "Latency p95, wall (s)", "sec"),
    ("median_words", "Median answer length (words)", "int"),
    ("questions", "Questions", "int"),
    ("answerable", "… answerable", "int"),
    ("unanswerable", "… unanswerable", "int"),
    ("errors", "Errors", "int"),
]
CHART_METRICS = ["hit@5", "mrr@10", "answer_accuracy", "answered_right", "shown", "citation_accuracy", "refusal_accuracy", "false_refusals"]
CHART_LABELS = ["hit@5", "MRR@10", "answer\naccuracy", "answered\nright", "shown", "citation\naccuracy", "unanswerable\nkept out", "false\nrefusals"]


def fmt(value, kind: str) -> str:
    if value is None:
        return "–"
    if kind == "pct":
        return f"{value:.1%}"
    if kind == "num":
        return f"{value:.3f}"
    if kind == "sec":
        return f"{value:.2f}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def column_names(results: dict) -> dict[str, str]:
    backends = results["meta"].get("backends", {})
    return {name: f"{name} ({backends.get(name, '?')})" for name in results["summary"]}


def combine(runs: list[dict]) -> dict:
    """One results dict from several runs on the same question set; a pipeline that appears in more
    than one run (byline with two backends) is named after its backend too."""
    if not runs:
        raise ValueError("no results given")
    sets = {r["meta"].get("set") for r in runs}
    if len(sets) > 1:
        raise ValueError(f"the runs are on different question sets: {', '.join(map(str, sets))}")
    counts: dict[str, int] = {}
    for r in runs:
        for name in r["summary"]:
            counts[name] = counts.get(name, 0) + 1
    meta = {**runs[0]["meta"], "pipelines": [], "backends": {}, "combined_from": [r["meta"].get("started") for r in runs]}
    out: dict = {"meta": meta, "summary": {}, "rows": {}, "ingest": {}}
    for r in runs:
        for name, summary in r["summary"].items():
            backend = r["meta"].get("backends", {}).get(name, "?")
            label = f"{name}-{backend}" if counts[name] > 1 else name
            meta["pipelines"].append(label)
            meta["backends"][label] = backend
            out["summary"][label] = summary
            out["rows"][label] = r.get("rows", {}).get(name, [])
            if name in r.get("ingest", {}):
                out["ingest"][label] = r["ingest"][name]
    return out


def write_all(results: dict, out: Path) -> list[Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    chart = write_chart(results, out / "chart.png")
    (out / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    (out / "report.md").write_text(markdown(results, chart.name), encoding="utf-8")
    return [out / "report.md", out / "results.json", chart]


def markdown(results: dict, chart_name: str = "chart.png") -> str:
    meta, summary = results["meta"], results["summary"]
    cols = column_names(results)
    lines = [
        "# Evaluation report",
        "",
        f"- Question set: `{meta.get('set', '?')}` ({meta['questions']} questions)",
        f"- Corpus: `{meta['corpus']}`",
    ]
    for name, ing in results.get("ingest", {}).items():
        lines.append(f"- Index for {cols[name]}: `{ing.get('index')}` — {ing.get('articles')} articles; this run: {ing.get('summary')}")
        if ing.get("missing_gold_sources"):
            lines.append(f"  - **{len(ing['missing_gold_sources'])} gold source articles are not in the corpus**")
    lines += [
        f"- Embedder: {meta.get('embedder')}, top_k {meta.get('top_k')}; commit {meta.get('commit') or '?'}; {meta.get('started')} → {meta.get('finished', '?')}",
        "",
        "## Summary",
        "",
        "| Metric | " + " | ".join(cols[n] for n in summary) + " |",
        "|---|" + "---:|" * len(summary),
    ]
    for key, label, kind in METRICS:
        lines.append(f"| {label} | " + " | ".join(fmt(summary[n].get(key), kind) for n in summary) + " |")
    lines += [
        "",
        "Retrieval is scored per article (rank of the first gold article among the retrieved passages' articles); "
        "answer accuracy counts a reply correct when an accepted answer occurs in it after normalisation. "
        "See docs/EVALUATION.md for the definitions.",
        "",
        f"![metrics]({chart_name})",
        "",
    ]
    for name, rows in results["rows"].items():
        bad = failures([Row(**r) for r in rows])
        lines += [f"## Failures: {cols[name]} ({len(bad)} of {len(rows)})", ""]
        if not bad:
            lines += ["None.", ""]
            continue
        lines += ["| id | problem | tier / mode | question | expected | reply | gold rank |", "|---|---|---|---|---|---|---:|"]
        for r in bad:
            lines.append(
                f"| {r.id} | {problem(r)} | {r.tier} / {r.mode} | {_cell(r.question, 90)} | {_cell(' / '.join(r.expected) or '(refuse)', 50)} "
                f"| {_cell(r.error or r.answer, 160)} | {r.rank if r.rank is not None else '–'} |"
            )
        lines.append("")
    return "\n".join(lines)


def problem(r: Row) -> str:
    if r.error:
        return "error"
    if not r.answerable:
        return "confident answer to an unanswerable question"
    parts = []
    if r.refused:
        parts.append("refused")
    elif r.tier == "closest":
        parts.append("closest tier" + (", answer shown" if r.shown else ", answer not shown"))
    elif not r.correct:
        parts.append("wrong answer")
    if r.sources and (r.rank is None or r.rank > 5):
        parts.append("gold not in top 5")
    if r.sources and not r.refused and not r.cites_gold:
        parts.append("no gold citation")
    return ", ".join(parts) or "ok"


def _cell(text: str, limit: int) -> str:
    text = " ".join((text or "").split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def write_chart(results: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = results["summary"]
    cols = column_names(results)
    names = list(summary)
    fig, (ax, lat) = plt.subplots(1, 2, figsize=(13, 4.6), gridspec_kw={"width_ratios": [4, 1]})
    width = 0.8 / max(1, len(names))
    for i, name in enumerate(names):
        raw = [summary[name].get(k) for k in CHART_METRICS]
        values = [v or 0.0 for v in raw]
        xs = [x + (i - (len(names) - 1) / 2) * width for x in range(len(CHART_METRICS))]
        bars = ax.bar(xs, values, width, label=cols[name])
        for b, v, r in zip(bars, values, raw):
            ax.text(b.get_x() + b.get_width() / 2, v + 0.01, "n/a" if r is None else f"{v:.2f}", ha="center", va="bottom", fontsize=7)
        lvals = [summary[name].get("latency_p50_s") or 0.0, summary[name].get("latency_p95_s") or 0.0]
        lxs = [x + (i - (len(names) - 1) / 2) * width for x in range(2)]
        lbars = lat.bar(lxs, lvals, width, label=cols[name])
        for b, v in zip(lbars, lvals):
            lat.text(b.get_x() + b.get_width() / 2, v, f"{v:.1f}", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(CHART_METRICS)), CHART_LABELS, fontsize=8)
    ax.set_ylim(0, 1.1)
    ax.set_title(f"{Path(results['meta'].get('set', '')).name or 'questions'}: {results['meta']['questions']} questions", fontsize=10)
    # Below the axes: inside, it hid the labels of bars that reach 1.0.
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=len(names), frameon=False)
    ax.grid(axis="y", alpha=0.3)
    lat.set_xticks(range(2), ["p50", "p95"], fontsize=8)
    lat.set_title("latency (s)", fontsize=10)
    lat.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def print_summary(results: dict, console) -> None:
    from rich.table import Table

    summary = results["summary"]
    cols = column_names(results)
    table = Table(title=f"{results['meta']['questions']} questions on {results['meta']['corpus']}")
    table.add_column("metric")
    for n in summary:
        table.add_column(cols[n], justify="right")
    for key, label, kind in METRICS:
        table.add_row(label, *(fmt(summary[n].get(key), kind) for n in summary))
    console.print(table)
