"""Byline as an MCP tool server (`uv run app.py mcp`), a thin shell over the one `Engine`.

Two tools an agent can call:
- `ask_news(question)`: the answer with its tier, short answer and numbered citations;
- `search_articles(query, since, until, limit)`: the matching articles, each with its best passage.

It speaks MCP over stdio by default (what desktop agents and editors start as a child process), or
streamable HTTP on 127.0.0.1 with `--http` (at /mcp). A separate command rather than part of the
chat's server: nothing of it costs the chat start-up time, and Gradio's built-in MCP server (the
`gradio[mcp]` extra) pins pydantic ≤ 2.12.5 below what the rest of Byline installs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from byline.dates import as_of_for

if TYPE_CHECKING:  # pragma: no cover
    from byline.engine import Engine

INSTRUCTIONS = (
    "Byline answers questions from a collection of news articles, citing the article and sentence "
    "each answer comes from. Use ask_news for a question, search_articles to find articles on a "
    "topic or in a date range."
)


def _cited(c) -> dict[str, Any]:
    return {
        "n": c.n,
        "article_id": c.article_id,
        "title": c.title,
        "url": c.url or None,
        "date": c.published or None,
        "sentence": c.passage[c.highlight_start : c.highlight_end] if c.highlight_end > c.highlight_start else c.passage,
    }


def build(engine: "Engine", host: str = "127.0.0.1", port: int = 8765):
    from mcp.server.fastmcp import FastMCP

    from byline.engine import QuestionError

    server = FastMCP("byline", instructions=INSTRUCTIONS, host=host, port=port)

    @server.tool()
    def ask_news(question: str) -> dict[str, Any]:
        """Answer a question from the news articles. Returns the answer (with [n] markers), its
        tier ("answer": confident; "closest": the articles don't say it directly, the closest
        sentences are shown; "refused": nothing relevant), a short answer when there is one, and
        the cited articles with the sentence each citation points at."""
        try:
            answer = engine.ask(question, None, as_of_for(question))
        except QuestionError as exc:
            return {"error": str(exc)}
        return {
            "answer": answer.answer,
            "tier": answer.tier,
            "short_answer": answer.short_answer,
            "citations": [_cited(c) for c in answer.citations],
        }

    @server.tool()
    def search_articles(query: str, since: str | None = None, until: str | None = None, limit: int = 5) -> dict[str, Any]:
        """Find the news articles that best match a query, optionally published between `since`
        and `until` (YYYY-MM-DD, both included). Returns each article's id, title, url, date and
        best-matching passage."""
        try:
            found = engine.search(query, since, until, max(1, min(int(limit), 20)))
        except QuestionError as exc:
            return {"error": str(exc), "articles": []}
        return {
            "articles": [
                {"article_id": sp.passage.article_id, "title": sp.passage.title, "url": sp.passage.url or None,
                 "date": sp.passage.published or None, "passage": sp.passage.text}  # fmt: skip
                for sp in found
            ]
        }

    return server


def run(engine: "Engine", http: bool = False, host: str = "127.0.0.1", port: int = 8765) -> int:
    engine.start_local_model()
    engine.ensure_index()
    engine.warm_up()
    build(engine, host, port).run("streamable-http" if http else "stdio")
    return 0
