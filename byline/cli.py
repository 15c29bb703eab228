"""The command line: a thin shell over the Engine. `python app.py --help` lists the commands."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def _common(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("settings (override BYLINE_* environment variables and byline.toml)")
    g.add_argument("--profile", help="named settings profile: local, extractive, openai, ollama, vllm, llamacpp, lmstudio, or one from byline.toml")
    g.add_argument("--backend", choices=["local", "extractive", "openai", "openai-compatible"], help="answer generator (default: extractive)")
    g.add_argument("--base-url", help="OpenAI-compatible server URL, e.g. http://127.0.0.1:11434/v1")
    g.add_argument("--model", help="model name on that server")
    g.add_argument("--api-key", help="API key (prefer the BYLINE_API_KEY or OPENAI_API_KEY environment variable)")
    g.add_argument("--model-path", type=Path, help="GGUF file for the local backend (default: the packaged SmolLM2-135M)")
    g.add_argument("--embedder", choices=["bge-small", "minilm", "openai"], help="embedding model (default: bge-small)")
    g.add_argument("--index-dir", type=Path, help="where the index lives (default: index/)")
    g.add_argument("--corpus-dir", type=Path, help="the corpus folder (default: corpus/)")
    g.add_argument("--chroma-url", help="keep the index on a Chroma server, e.g. http://127.0.0.1:8000")
    g.add_argument("--top-k", type=int, help="passages an answer may draw on and cite")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="app.py", description="Byline: cited answers from a collection of news articles.")
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("serve", help="start the web chat (the default command)")
    _common(p)
    p.add_argument("--host", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default: 7860)")

    p = sub.add_parser("ask", help="answer one question")
    _common(p)
    p.add_argument("question", nargs="+", help="the question")
    p.add_argument("--json", action="store_true", help="print the answer as JSON")
    p.add_argument("--date", type=_iso_date, default=None, metavar="YYYY-MM-DD",
                   help="when the question is asked: prefer articles published in the days before it, and read \"this week\" from it")  # fmt: skip

    p = sub.add_parser("ingest", help="add, update and remove articles in the index")
    _common(p)
    p.add_argument("paths", nargs="*", type=Path, help="files or folders (default: the corpus folder)")
    p.add_argument("--rebuild", action="store_true", help="drop the index and build it again")
    p.add_argument("--no-prune", action="store_true", help="keep indexed articles that are no longer in these paths")

    p = sub.add_parser("articles", help="list the indexed articles")
    _common(p)
    p = sub.add_parser("delete", help="remove an article from the index")
    _common(p)
    p.add_argument("article_id")
    p = sub.add_parser("stats", help="index statistics")
    _common(p)
    p = sub.add_parser("config", help="print the effective settings (keys masked)")
    _common(p)

    p = sub.add_parser("mcp", help="serve the ask_news and search_articles tools over MCP (stdio; --http for streamable HTTP)")
    _common(p)
    p.add_argument("--http", action="store_true", help="streamable HTTP on 127.0.0.1 (at /mcp) instead of stdio")
    p.add_argument("--mcp-port", type=int, default=8765, help="port for --http (default: 8765)")

    p = sub.add_parser("eval", help="score the assistant on a question set")
    _common(p)
    p.add_argument("--set", dest="eval_set", type=Path, default=Path("evals/bundled.jsonl"), help="question set (JSONL)")
    p.add_argument("--corpus", type=Path, help="corpus to index for this set (default: the corpus folder)")
    p.add_argument("--pipeline", choices=["byline", "baseline", "both"], default="byline")
    p.add_argument("--limit", type=int, help="only the first N questions")
    p.add_argument("--out", type=Path, default=Path("eval-runs/latest"), help="where to write report.md, results.json and the chart")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--combine", type=Path, nargs="+", metavar="RESULTS", help="write one side-by-side report from earlier runs' results.json (nothing is asked)")
    return parser


def settings_from(args: argparse.Namespace):
    from byline.config import load_settings

    keys = ["backend", "base_url", "model", "api_key", "model_path", "embedder", "index_dir", "corpus_dir", "chroma_url", "top_k", "host", "port"]
    return load_settings({k: getattr(args, k, None) for k in keys}, profile=getattr(args, "profile", None))


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {"serve", "ask", "ingest", "articles", "delete", "stats", "config", "eval", "mcp"}
    if not argv or (argv[0] not in commands and argv[0] not in ("-h", "--help")):
        argv = ["serve", *argv]
    args = build_parser().parse_args(argv)
    from rich.console import Console

    err = Console(stderr=True, highlight=False, soft_wrap=True)  # one error = one line, even in a pipe
    from byline.config import ConfigError
    from byline.corpus import CorpusError
    from byline.engine import QuestionError
    from byline.onnx_models import ModelNotFound
    from byline.store import IndexError_

    try:
        settings = settings_from(args)
        if args.command == "config":
            print(json.dumps(settings.masked(), indent=2))
            return EXIT_OK
        if args.command == "eval":
            from byline.evaluation.runner import run_cli

            return run_cli(args, settings, err)
        from byline.engine import Engine

        engine = Engine(settings)
        try:
            return _run(args, engine, err)
        finally:
            engine.close()
    except (QuestionError, ConfigError) as exc:
        err.print(f"[red]{exc}[/red]", soft_wrap=True)
        return EXIT_USAGE
    except (CorpusError, IndexError_, ModelNotFound) as exc:
        err.print(f"[red]{exc}[/red]", soft_wrap=True)
        return EXIT_ERROR
    except KeyboardInterrupt:
        err.print("Interrupted.")
        return 130


def _run(args, engine, err) -> int:
    if args.command == "ingest":
        report = _ingest_with_progress(engine, err, args.paths or None, prune=not args.no_prune, rebuild=args.rebuild)
        for item in report.items:
            if item.status == "error":
                err.print(f"[yellow]skipped {item.path}: {item.reason}[/yellow]", markup=True, soft_wrap=True)
        err.print(report.summary())
        ok = any(i.status != "error" for i in report.items) or not report.items
        return EXIT_OK if ok else EXIT_ERROR
    if args.command == "ask":
        engine.start_local_model()
        _ensure_index(engine, err)
        question = " ".join(args.question)
        if args.json:
            print(json.dumps(engine.ask(question, question_date=args.date).to_json(), ensure_ascii=False, indent=2))
        else:
            _print_answer(_stream_to_terminal(engine, question, args.date))
        return EXIT_OK
    if args.command == "articles":
        for a in engine.articles():
            print(f"{a.id}\t{a.published or '-'}\t{a.source or '-'}\t{a.passages} passages\t{a.title}")
        return EXIT_OK
    if args.command == "delete":
        if engine.delete_article(args.article_id):
            err.print(f"Removed {args.article_id}.")
            return EXIT_OK
        err.print(f"[red]No article {args.article_id!r} in the index.[/red]")
        return EXIT_ERROR
    if args.command == "stats":
        print(json.dumps(engine.stats(), indent=2))
        return EXIT_OK
    if args.command == "mcp":
        from byline.mcp_server import run

        return run(engine, http=args.http, port=args.mcp_port)
    if args.command == "serve":
        from byline.ui import serve

        if not engine.index_may_exist():
            engine.start_local_model()  # loads while the index is built
            _ensure_index(engine, err)  # first run: build it, with progress, before serving
        return serve(engine, err)
    return EXIT_USAGE


def _ensure_index(engine, err) -> None:
    if engine.store.count() == 0:
        err.print(f"Building the index from {engine.settings.corpus_dir}/ (first run) …")
        report = _ingest_with_progress(engine, err, None, prune=True, rebuild=False)
        err.print(report.summary())


def _ingest_with_progress(engine, err, paths, prune: bool, rebuild: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("ingesting"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), TextColumn("{task.description}"), console=err, transient=True) as bar:
        task = bar.add_task("", total=None)

        def tick(done: int, total: int, label: str) -> None:
            bar.update(task, completed=done, total=total, description=label[:50])

        # Logs and scripts (no terminal) get a line per committed batch instead of a bar.
        stored = None if err.is_terminal else (lambda n: err.print(f"ingest: {n} articles stored"))
        return engine.ingest(paths, progress=tick, prune=prune, rebuild=rebuild, on_stored=stored)


def _iso_date(text: str) -> str:
    import argparse
    import datetime as dt

    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2022-06-16") from None


def _stream_to_terminal(engine, question: str, question_date: str | None = None):
    """Show the model's words as they arrive; the checked, cited answer then replaces them."""
    from rich.console import Console
    from rich.live import Live
    from rich.text import Text

    from byline.types import Done, Token

    out = Console(highlight=False)
    shown, answer = "", None
    with Live(Text(""), console=out, transient=True, refresh_per_second=20, redirect_stdout=False) as live:
        for event in engine.stream(question, question_date=question_date):
            if isinstance(event, Token):
                shown += event.text
                live.update(Text(shown, style="dim"))
            elif isinstance(event, Done):
                answer = event.answer
    return answer


def _print_answer(answer) -> None:
    from rich.console import Console
    from rich.markup import escape

    out = Console(highlight=False)
    if answer.notice:
        out.print(f"[yellow]{escape(answer.notice)}[/yellow]")
    if answer.standalone_question and answer.standalone_question != answer.question:
        out.print(f"[dim](searched for: {escape(answer.standalone_question)})[/dim]")
    if answer.mode == "generated" and any(not x.supported for x in answer.sentences):
        # A sentence no passage supports is shown, and marked, never passed off as cited fact.
        out.print(" ".join(escape(x.text + "".join(f" [{n}]" for n in x.citations)) + ("" if x.supported else " [yellow](unsupported)[/yellow]") for x in answer.sentences))
    else:
        out.print(escape(answer.answer))
    if answer.citations:
        out.print("\nSources:")
    for c in answer.citations:
        meta = " · ".join(x for x in (c.source, c.published, c.url) if x)
        out.print(f"[bold][{c.n}][/bold] {escape(c.title)} ({c.article_id}){' — ' + escape(meta) if meta else ''}")
        p = c.passage
        out.print("    " + escape(p[: c.highlight_start]) + "[bold underline]" + escape(p[c.highlight_start : c.highlight_end]) + "[/bold underline]" + escape(p[c.highlight_end :]))
