"""The index on a real Chroma server (`--chroma-url`), started with chromadb's own `chroma run`.

One server for the module, on a free 127.0.0.1 port with its data in a temporary folder; it is
terminated (and waited for) at the end. Everything Byline keeps on the server (passages and the
article manifest) must work from any "machine": a second Engine and the CLI get their own empty
local index_dir (only the BM25 cache lives there) and an empty corpus folder, and still see and
answer from the same articles.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, copy_corpus, make_settings

pytestmark = pytest.mark.timeout(90)

GENEVA = "When was the Geneva summit?"
CHANGED = "002_aa04ac5f397be0f2"
DELETED = "003_a1f7540efced2643"
CHROMA = Path(sys.executable).parent / "chroma"
START_DEADLINE_S = 30.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _heartbeat(port: int) -> bool:
    import chromadb

    try:
        chromadb.HttpClient(host="127.0.0.1", port=port, settings=chromadb.Settings(anonymized_telemetry=False)).heartbeat()
        return True
    except Exception:
        return False


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory):
    root = tmp_path_factory.mktemp("chroma-server")
    port = _free_port()
    log = open(root / "server.log", "wb")
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    proc = subprocess.Popen(
        [str(CHROMA), "run", "--path", str(root / "data"), "--port", str(port), "--host", "127.0.0.1"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + START_DEADLINE_S
        while not _heartbeat(port):
            if proc.poll() is not None:
                pytest.fail(f"chroma run exited with {proc.returncode}: {(root / 'server.log').read_text(errors='replace')[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"chroma run did not answer a heartbeat within {START_DEADLINE_S:.0f} s")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()


@pytest.fixture(scope="module")
def machine_a(chroma_url, tmp_path_factory):
    """The first "machine": a corpus folder and an Engine whose index is on the server."""
    from byline import Engine

    root = tmp_path_factory.mktemp("machine-a")
    copy_corpus(root / "corpus")
    engine = Engine(make_settings(root, chroma_url=chroma_url))
    yield root, engine
    engine.close()


def _statuses(report) -> dict[str, str]:
    return {i.article_id: i.status for i in report.items if i.article_id}


def _server_passage_ids(chroma_url: str) -> list[str]:
    """Straight from the server, not through Byline."""
    import chromadb
    from urllib.parse import urlparse

    url = urlparse(chroma_url)
    client = chromadb.HttpClient(host=url.hostname, port=url.port, settings=chromadb.Settings(anonymized_telemetry=False))
    return client.get_collection("byline-passages").get(include=[])["ids"]


def _count_embedded(engine) -> list[int]:
    """Count the texts the engine's embedder is asked to embed from now on."""
    calls: list[int] = []
    inner = engine.embedding.embed_texts

    def counting(texts):
        calls.append(len(texts))
        return inner(texts)

    engine.embedding.embed_texts = counting
    return calls


def test_ingest_update_delete_and_answer_through_the_server(chroma_url, machine_a):
    root, engine = machine_a
    assert engine.store.location == chroma_url

    first = engine.ingest()
    assert first.count("added") == 5 and first.passages_added > 0, first.summary()
    ids = _server_passage_ids(chroma_url)
    # The server holds a vector for each article's lead passage and every passage's text (in the manifest).
    assert len(ids) == first.passages_embedded == 5
    assert sum(len(engine.store.article_passages(a.id)) for a in engine.articles()) == first.passages_added

    embedded = _count_embedded(engine)
    again = engine.ingest()
    assert again.count("skipped") == 5 and again.count("added") == again.count("updated") == 0, again.summary()
    assert again.passages_added == 0 and sum(embedded) == 0

    changed = root / "corpus" / f"{CHANGED}.md"
    changed.write_text(changed.read_text(encoding="utf-8").replace("daily press briefing on Tuesday", "daily press briefing on Wednesday"), encoding="utf-8")
    third = engine.ingest()
    assert _statuses(third)[CHANGED] == "updated" and third.count("updated") == 1 and third.count("skipped") == 4, third.summary()
    assert sum(embedded) == third.passages_embedded == 1 and third.passages_added > 1  # only the changed article's lead was embedded
    assert any("Wednesday" in p.text for p in engine.store.article_passages(CHANGED))

    (root / "corpus" / f"{DELETED}.md").unlink()
    fourth = engine.ingest()
    assert _statuses(fourth)[DELETED] == "removed" and fourth.count("removed") == 1 and fourth.count("skipped") == 4, fourth.summary()
    ids = _server_passage_ids(chroma_url)
    assert not any(i.startswith(f"{DELETED}#") for i in ids)
    assert len(ids) == len(set(ids)) == len(engine.articles()) == 4
    assert sum(len(engine.store.article_passages(a.id)) for a in engine.articles()) == sum(a.passages for a in engine.articles())
    assert {a.id for a in engine.articles()} == {p.stem for p in (root / "corpus").glob("*.md")}

    answer = engine.ask(GENEVA)
    assert not answer.refused and "June 2021" in answer.answer, answer.answer
    assert answer.citations and answer.citations[0].article_id in {a.id for a in engine.articles()}
    # Nothing but the BM25 cache is kept locally: no embedded Chroma store was created.
    assert not (root / "index" / "chroma").exists()
    assert any((root / "index" / "bm25").rglob("ids.json"))


def test_a_second_machine_sees_the_same_index_and_answers(chroma_url, machine_a, tmp_path):
    from byline import Engine

    _, engine = machine_a
    (tmp_path / "corpus").mkdir()  # an empty corpus folder: nothing is ingested here
    other = Engine(make_settings(tmp_path, chroma_url=chroma_url))
    try:
        assert [a.id for a in other.articles()] == [a.id for a in engine.articles()]
        assert other.stats()["passages"] == engine.stats()["passages"]
        answer = other.ask(GENEVA)
        assert not answer.refused and "June 2021" in answer.answer, answer.answer
        assert answer.citations
        # Its BM25 index was rebuilt from the server's passages into its own local cache.
        assert any((tmp_path / "index" / "bm25").rglob("ids.json"))
        assert not (tmp_path / "index" / "chroma").exists()
    finally:
        other.close()


def _cli(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    (tmp_path / "cli-corpus").mkdir(exist_ok=True)
    base = ["--backend", "extractive", "--index-dir", str(tmp_path / "cli-index"), "--corpus-dir", str(tmp_path / "cli-corpus")]
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    return subprocess.run([sys.executable, "app.py", "ask", *base, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_cli_asks_through_the_server(chroma_url, machine_a, tmp_path):
    done = _cli(["--chroma-url", chroma_url, "--json", GENEVA], tmp_path)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert not out["refused"] and "June 2021" in out["answer"], out["answer"]
    assert out["citations"] and out["citations"][0]["n"] == 1
    assert "Building the index" not in done.stderr  # it used the server's index, not the empty local corpus


def test_a_closed_port_gives_one_clear_line(tmp_path):
    from byline import Engine
    from byline.store import IndexError_

    url = f"http://127.0.0.1:{_free_port()}"
    engine = Engine(make_settings(tmp_path, chroma_url=url))
    with pytest.raises(IndexError_, match="cannot be reached"):
        engine.store
    engine.close()

    done = _cli(["--chroma-url", url, GENEVA], tmp_path)
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and url in lines[0] and "cannot be reached" in lines[0], done.stderr
