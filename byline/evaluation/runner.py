"""`python app.py eval`: build or reuse the corpus's index, ask every question, score, write the report.

Each question goes through the pipeline's `ask` exactly as the chat would send it: a follow-up
(`follow_up_of`) carries the conversation so far as history, built from this run's own answers.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path

from byline.config import Settings
from byline.evaluation import metrics, report
from byline.evaluation.dataset import DatasetError, Question, conversation, load_questions
from byline.evaluation.pipelines import BylinePipeline, Pipeline
from byline.types import Answer, Turn

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def history_for(q: Question, by_id: dict[str, Question], answers: dict[str, Answer]) -> list[Turn]:
    """The turns before q in its conversation, from this run's answers (oldest first)."""
    turns = []
    for prev in conversation(by_id, q):
        a = answers.get(prev.id)
        if a is not None:
            turns.append(Turn(prev.question, a.answer, a.standalone_question))
    return turns


def ask_all(pipeline: Pipeline, questions: list[Question], tick=None) -> list[metrics.Row]:
    """Ask every question in order; a question the pipeline raises on is scored as an error row."""
    by_id = {q.id: q for q in questions}
    answers: dict[str, Answer] = {}
    rows: list[metrics.Row] = []
    for i, q in enumerate(questions):
        history = history_for(q, by_id, answers)
        t0 = time.perf_counter()
        try:
            answer = pipeline.ask(q.question, history, q.question_date)
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # one failing question must not sink the run
            rows.append(metrics.error_row(q, f"{type(exc).__name__}: {exc}"[:300], time.perf_counter() - t0))
        else:
            answers[q.id] = answer
            rows.append(metrics.score(q, answer, time.perf_counter() - t0))
        if tick:
            tick(i + 1, len(questions), rows[-1])
    return rows


def run_cli(args, settings: Settings, err) -> int:
    """The eval command; returns the exit code. Progress and messages go to `err`, --json to stdout."""
    if getattr(args, "combine", None):
        try:
            results = report.combine([json.loads(Path(f).read_text(encoding="utf-8")) for f in args.combine])
        except (OSError, ValueError, KeyError) as exc:
            err.print(f"[red]Cannot combine those results: {_escape(str(exc))}[/red]")
            return EXIT_USAGE
        files = report.write_all(results, Path(args.out))
        err.print(f"Wrote {', '.join(str(f) for f in files)}")
        return EXIT_OK
    if args.limit is not None and args.limit < 1:
        err.print("[red]--limit must be at least 1.[/red]")
        return EXIT_USAGE
    from byline import feedback

    if feedback.is_feedback_file(Path(args.eval_set)):
        # The page's thumbs: asked again on the user's own index (it has no accepted answers to score).
        from byline.engine import Engine

        engine = Engine(settings)
        try:
            return feedback.evaluate(Path(args.eval_set), engine, Path(args.out), err)
        finally:
            engine.close()
    try:
        questions = load_questions(Path(args.eval_set), args.limit)
    except DatasetError as exc:
        err.print(f"[red]{_escape(str(exc))}[/red]")
        return EXIT_USAGE
    corpus = Path(args.corpus or settings.corpus_dir)
    if not corpus.exists():
        err.print(f"[red]{corpus}: no such corpus file or folder.[/red]")
        return EXIT_USAGE
    names = ["byline", "baseline"] if args.pipeline == "both" else [args.pipeline]
    out = Path(args.out)
    results = evaluate(questions, corpus, settings, names, err)
    if results is None:
        return EXIT_ERROR
    results["meta"]["set"] = str(args.eval_set)
    files = report.write_all(results, out)
    if args.json:
        print(json.dumps({"meta": results["meta"], "summary": results["summary"]}, indent=2))
    else:
        from rich.console import Console

        report.print_summary(results, Console(highlight=False))
    err.print(f"Wrote {', '.join(str(f) for f in files)}")
    return EXIT_OK


def evaluate(questions: list[Question], corpus: Path, settings: Settings, names: list[str], err) -> dict | None:
    """Run the named pipelines over the questions; the results dict that report.py writes (None on failure)."""
    from byline.llm import GeneratorError

    meta = _meta(questions, corpus, settings, names)
    results: dict = {"meta": meta, "summary": {}, "ingest": {}, "rows": {}}
    byline = BylinePipeline(settings, corpus)  # its engine also serves the baseline's generator
    try:
        for name in names:
            try:
                pipeline = byline if name == "byline" else _baseline(byline, settings, corpus, err)
            except GeneratorError as exc:
                err.print(f"[red]The baseline needs a generator: {_escape(str(exc))}[/red]")
                return None
            try:
                label = f"{name} ({pipeline_backend(name, settings)})"
                ingest = _with_progress(err, f"indexing for {label}", pipeline.prepare)
                have = pipeline.article_ids()
                ingest["missing_gold_sources"] = sorted({s for q in questions for s in q.sources if s not in have})
                if ingest["missing_gold_sources"]:
                    err.print(f"[yellow]{len(ingest['missing_gold_sources'])} gold source article(s) are not in the corpus, e.g. {', '.join(ingest['missing_gold_sources'][:3])}[/yellow]")
                err.print(f"{label}: {ingest['summary']} → {ingest['index']}")
                rows = _ask_with_progress(err, label, pipeline, questions)
            finally:
                if pipeline is not byline:
                    pipeline.close()
            results["ingest"][name] = ingest
            results["rows"][name] = [r.to_json() for r in rows]
            results["summary"][name] = metrics.summarize(rows)
    finally:
        byline.close()
    meta["finished"] = _now()
    return results


def pipeline_backend(name: str, settings: Settings) -> str:
    if name == "baseline" and settings.backend == "extractive":
        return "local"  # the quickstart needs a language model; there is no extractive quickstart
    return settings.backend


def _baseline(byline: BylinePipeline, settings: Settings, corpus: Path, err):
    """The quickstart pipeline with Byline's generator.

    For the local backend it gets a llama.cpp server of its own with one 4,096-token slot: the
    chat's server splits its context over parallel slots (1,024 tokens each), too small for the
    quickstart's two 1,024-token chunks, and llama-index would then refine over ~9 calls a question.
    """
    from byline.evaluation import indexes
    from byline.evaluation.baseline import BaselinePipeline
    from byline.llm import LocalServer, make_generator

    backend = pipeline_backend("baseline", settings)
    if backend != settings.backend:
        err.print("[yellow]The baseline has no extractive mode; it answers with the local model.[/yellow]")
    gen_settings = byline.settings.model_copy(update={"backend": backend})
    server = None
    if backend == "local":
        gen_settings = gen_settings.model_copy(update={"llm_parallel": 1})
        server = LocalServer(gen_settings)
        generator = make_generator(gen_settings, server)
    else:
        generator = byline.engine.generator(gen_settings)
    pipeline = BaselinePipeline(settings, corpus, indexes.baseline_dir(settings, corpus), generator, gen_settings)
    pipeline.on_close = server.stop if server else None
    return pipeline


def _with_progress(err, label: str, prepare) -> dict:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    columns = (TextColumn("{task.fields[label]}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.description}"))
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("", total=None, label=label)

        def tick(done: int, total: int, title: str) -> None:
            bar.update(task, completed=done, total=total, description=(title or "")[:40])

        return prepare(tick)


def _ask_with_progress(err, label: str, pipeline: Pipeline, questions: list[Question]) -> list[metrics.Row]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    columns = (TextColumn("asking {task.fields[label]}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.description}"))
    correct = answerable = 0
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("", total=len(questions), label=label)

        def tick(done: int, total: int, row: metrics.Row) -> None:
            nonlocal correct, answerable
            if row.answerable:
                answerable += 1
                correct += bool(row.correct)
            acc = f"accuracy {correct}/{answerable}" if answerable else ""
            bar.update(task, completed=done, description=acc)

        return ask_all(pipeline, questions, tick)


def _meta(questions: list[Question], corpus: Path, settings: Settings, names: list[str]) -> dict:
    return {
        "questions": len(questions),
        "corpus": str(corpus),
        "pipelines": names,
        "backends": {n: pipeline_backend(n, settings) for n in names},
        "embedder": settings.embedder,
        "top_k": settings.top_k,
        "started": _now(),
        "commit": _git_commit(),
        "python": sys.version.split()[0],
    }


def _now() -> str:
    return dt.datetime.now().isoformat(timespec="seconds")


def _git_commit() -> str:
    try:
        root = Path(__file__).resolve().parent.parent.parent
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True, timeout=5).stdout.strip()
        return head + ("+dirty" if dirty and head else "")
    except (OSError, subprocess.SubprocessError):
        return ""


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
