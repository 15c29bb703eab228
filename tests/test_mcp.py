"""The MCP tool server (`app.py mcp`): started as an agent starts it, a child process over stdio,
and called through the `mcp` package's own client."""

from __future__ import annotations

import asyncio
import json
import os
import sys

from conftest import ROOT


def _dated_corpus(dest):
    """The bundled articles with publication dates: 000 and 001 in January 2022, the rest in 2019."""
    dest.mkdir()
    for f in sorted((ROOT / "corpus").glob("*.md")):
        date = "2022-01-20" if f.name.startswith(("000_", "001_")) else "2019-05-01"
        text = f.read_text(encoding="utf-8").replace("---\n", f"---\npublished: {date}\n", 1)
        (dest / f.name).write_text(text, encoding="utf-8")
    return dest


def _params(tmp_path):
    from mcp import StdioServerParameters

    corpus = _dated_corpus(tmp_path / "corpus")
    args = [str(ROOT / "app.py"), "mcp", "--backend", "extractive", "--index-dir", str(tmp_path / "index"), "--corpus-dir", str(corpus)]
    return StdioServerParameters(command=sys.executable, args=args, cwd=str(ROOT), env={**os.environ, "PYTHONUNBUFFERED": "1"})


async def _session_calls(tmp_path):
    from mcp import ClientSession
    from mcp.client.stdio import stdio_client

    async with stdio_client(_params(tmp_path)) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools = {t.name: t for t in (await session.list_tools()).tools}
            asked = await session.call_tool("ask_news", {"question": "When was the Geneva summit?"})
            found = await session.call_tool("search_articles", {"query": "Geneva summit", "since": "2022-01-01", "until": "2022-12-31", "limit": 3})
            empty = await session.call_tool("search_articles", {"query": "Geneva summit", "since": "1990-01-01", "until": "1990-12-31"})
            bad = await session.call_tool("search_articles", {"query": "Geneva summit", "since": "last year"})
            return tools, asked, found, empty, bad


def _data(result) -> dict:
    assert not result.isError, result
    return result.structuredContent if result.structuredContent else json.loads(result.content[0].text)


def test_mcp_lists_its_tools_and_answers_with_citations(tmp_path):
    tools, asked, found, empty, bad = asyncio.run(asyncio.wait_for(_session_calls(tmp_path), 300))
    assert set(tools) == {"ask_news", "search_articles"}
    assert "question" in tools["ask_news"].inputSchema["properties"]
    assert {"query", "since", "until", "limit"} <= set(tools["search_articles"].inputSchema["properties"])

    answer = _data(asked)
    assert "June 2021" in answer["answer"] and answer["tier"] == "answer" and answer["short_answer"] == "June 2021"
    assert answer["citations"][0]["article_id"].startswith(("000_", "001_")) and "June 2021" in answer["citations"][0]["sentence"]

    articles = _data(found)["articles"]
    assert {a["article_id"][:4] for a in articles} == {"000_", "001_"}  # the 2019 ones are outside the range
    assert all(a["date"] == "2022-01-20" and a["title"] and a["passage"] for a in articles)
    assert _data(empty)["articles"] == []  # nothing was published then, and it says so rather than searching everything
    assert "YYYY-MM-DD" in _data(bad)["error"]
