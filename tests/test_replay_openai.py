"""The replay model (tests/support/replay_openai.py) on its own, driven by the real ``openai``
client, and the hand-written replies it serves (evals/replies.jsonl) checked against the
articles they cite."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import openai
import pytest

from support.fake_openai import FakeOpenAIServer
from support.replay_openai import (
    ERROR_KINDS,
    NOT_FOUND,
    ReplayOpenAIServer,
    RepliesError,
    load_replies,
    normalise_text,
    parse_prompt,
)

ROOT = Path(__file__).resolve().parent.parent
REPLIES = ROOT / "evals" / "replies.jsonl"
BUNDLED = ROOT / "evals" / "bundled.jsonl"
RTQA = ROOT.parent / "shared" / "benchmarks" / "realtimeqa"
RTQA_CORPUS = RTQA / "corpus.jsonl"
RTQA_DEV = RTQA / "dev.jsonl"

# Made-up passages (not from any corpus) for the server tests.
HARBOUR = "[1] Harbour council meets\nThe harbour council met on Monday to discuss the new ferry timetable."
FARES = "[2] Ferry fares rise (Tidewater Post, published 2024-03-02)\nFerry fares will rise by ten percent from April, the operator said."
LIGHTHOUSE = "[3] Lighthouse reopens\nPublished: 2024-03-01\nSource: Coast Gazette\nThe old lighthouse reopened to visitors after a two-year restoration.\nThe keeper's lamp is now electric."
PASSAGES = "\n\n".join([HARBOUR, FARES, LIGHTHOUSE])


def sentence(text, cite, error=None, wrong=False):
    s = {"text": text, "cite": cite, "true": error in (None, "wrong_citation"), "error": error}
    if wrong:
        s["cite_wrong"] = True
    return s


TEST_REPLIES = [
    {
        "id": "t1",
        "question": "When will ferry fares rise?",
        "sentences": [
            sentence("Ferry fares go up in April.", "will rise by ten percent from April"),
            sentence("The council met on Monday.", "harbour council met on Monday"),
        ],
    },
    {
        "id": "t2",
        "question": "What reopened after a restoration?",
        "sentences": [sentence("The old lighthouse reopened.", "reopened to visitors after a two-year restoration", "wrong_citation", True)],
    },
    {"id": "t3", "question": "Who runs the ferry?", "sentences": [sentence("An operator runs it.", None)]},
    {
        "id": "t4",
        "question": "How much will fares rise?",
        "sentences": [sentence("Fares rise by a fifth.", "fares will rise by twenty percent", "wrong_number")],
    },
    {"id": "t5", "question": "Is the ferry safe?", "refuse": True, "sentences": []},
    {
        "id": "t6",
        "question": "What about the lighthouse?",
        "standalone": "When did the old lighthouse reopen?",
        "aliases": ["Is the lighthouse open again?"],
        "sentences": [sentence("It reopened after a two-year restoration.", "reopened to visitors after a two-year restoration")],
    },
    {
        "id": "t7",
        "question": "Is the lamp electric?",
        "sentences": [sentence("Yes, the lamp is electric now.", "keeper’s lamp is now electric")],  # curly in the phrase
    },
]


def user_prompt(question: str, passages: str = PASSAGES) -> str:
    return f"<passages>\n{passages}\n</passages>\n\nQuestion: {question}"


def messages(question: str, passages: str = PASSAGES) -> list[dict]:
    return [
        {"role": "system", "content": "Answer with [n] markers."},
        {"role": "user", "content": user_prompt(question, passages)},
    ]


def write_replies(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture
def server(tmp_path):
    with ReplayOpenAIServer(write_replies(tmp_path / "replies.jsonl", TEST_REPLIES)) as srv:
        yield srv


@pytest.fixture
def client(server):
    with openai.OpenAI(base_url=server.base_url, api_key="test-key", max_retries=0, timeout=5.0) as c:
        yield c


def ask(client, server, question: str | None = None, msgs: list[dict] | None = None, **kwargs) -> str:
    resp = client.chat.completions.create(model=server.model, messages=msgs or messages(question), **kwargs)
    return resp.choices[0].message.content


# -- the server -------------------------------------------------------------------


def test_phrase_becomes_the_number_of_the_passage_holding_it(server, client):
    assert ask(client, server, "When will ferry fares rise?") == "Ferry fares go up in April [2]. The council met on Monday [1]."
    entry = server.answers[-1]
    assert entry["reply_id"] == "t1" and entry["passages"] == [1, 2, 3]
    assert [s["found_in"] for s in entry["sentences"]] == [[2], [1]]


def test_passage_numbers_follow_the_prompt_not_the_order_of_the_replies(server, client):
    reordered = "\n\n".join([FARES.replace("[2]", "[1]", 1), HARBOUR.replace("[1]", "[2]", 1)])
    assert ask(client, server, msgs=messages("When will ferry fares rise?", reordered)) == "Ferry fares go up in April [1]. The council met on Monday [2]."


def test_cite_wrong_names_a_passage_without_the_phrase(server, client):
    assert ask(client, server, "What reopened after a restoration?") == "The old lighthouse reopened [1]."
    s = server.answers[-1]["sentences"][0]
    assert s["found_in"] == [3] and s["marker"] == 1 and s["wrong"]
    # With only the passage that holds the phrase, the wrong number is one past the last.
    assert ask(client, server, msgs=messages("What reopened after a restoration?", LIGHTHOUSE)) == "The old lighthouse reopened [4]."


def test_null_cite_gives_no_marker(server, client):
    assert ask(client, server, "Who runs the ferry?") == "An operator runs it."


def test_phrase_in_no_passage_is_cited_blindly_as_1_and_recorded(server, client):
    assert ask(client, server, "How much will fares rise?") == "Fares rise by a fifth [1]."
    assert server.blind == [
        {"reply_id": "t4", "question": "How much will fares rise?", "sentence": "Fares rise by a fifth.", "cite": "fares will rise by twenty percent"}
    ]
    assert server.answers[-1]["sentences"][0]["blind"]


def test_unknown_question_and_refusal_answer_not_in_the_articles(server, client):
    assert ask(client, server, "Who painted the lighthouse?") == NOT_FOUND
    assert ask(client, server, "Is the ferry safe?") == NOT_FOUND
    assert server.unmatched == ["Who painted the lighthouse?"]
    assert [a["reply_id"] for a in server.answers] == [None, "t5"]


def test_no_question_line_answers_not_in_the_articles(server, client):
    assert ask(client, server, msgs=[{"role": "user", "content": "Say hello."}]) == NOT_FOUND


@pytest.mark.parametrize(
    "asked",
    [
        "  when WILL ferry   fares rise ",  # case, spaces, no question mark
        "When will ferry fares rise?!",
        "When will ferry fares rise? (about: Is the ferry safe?)",  # byline.chat.joined
    ],
)
def test_question_is_matched_after_normalisation(server, client, asked):
    assert ask(client, server, asked).startswith("Ferry fares go up in April [2].")


def test_aliases_and_standalone_question_match(server, client):
    assert ask(client, server, "Is the lighthouse open again?") == "It reopened after a two-year restoration [3]."
    assert ask(client, server, "When did the old lighthouse reopen?") == "It reopened after a two-year restoration [3]."


def test_last_question_line_of_the_last_user_message_counts(server, client):
    msgs = [
        {"role": "system", "content": "Question: Is the ferry safe?"},
        {"role": "user", "content": "What reopened after a restoration?"},
        {"role": "assistant", "content": "The old lighthouse."},
        {"role": "user", "content": "Question: Is the ferry safe?\n\n" + user_prompt("When will ferry fares rise?")},
    ]
    assert ask(client, server, msgs=msgs).startswith("Ferry fares go up in April [2].")


def test_list_content_parts_are_read(server, client):
    msgs = [{"role": "user", "content": [{"type": "text", "text": user_prompt("Who runs the ferry?")}]}]
    assert ask(client, server, msgs=msgs) == "An operator runs it."


def test_passage_blocks_keep_meta_lines_and_drop_tags():
    question, passages = parse_prompt(user_prompt("Is the lamp electric?"))
    assert question == "Is the lamp electric?"
    assert sorted(passages) == [1, 2, 3]
    assert passages[3] == (
        "Lighthouse reopens\nPublished: 2024-03-01\nSource: Coast Gazette\n"
        "The old lighthouse reopened to visitors after a two-year restoration.\nThe keeper's lamp is now electric."
    )
    assert passages[2].startswith("Ferry fares rise (Tidewater Post, published 2024-03-02)\n")


def test_phrases_match_across_case_whitespace_and_curly_quotes(server, client):
    wrapped = LIGHTHOUSE.replace("The keeper's lamp is now electric.", "The KEEPER'S  LAMP\nis now electric.")
    assert ask(client, server, msgs=messages("Is the lamp electric?", wrapped)) == "Yes, the lamp is electric now [3]."
    assert normalise_text("Lavrov’s “talk”  on\nTuesday") == "lavrov's \"talk\" on tuesday"


# Byline's first numbered-passage prompt (prompts/answer_user_multi.txt until the capable prompts replaced it).
LEGACY_MULTI = (
    "Numbered passages:\n{passages}\n\nQuestion: {question}\n"
    "Answer in one or two short sentences, using only the passages. After each sentence put the number of the "
    "passage it came from in square brackets, like [1]. If the passages do not contain the answer, reply exactly: NOT IN THE ARTICLES"
)


def test_real_answer_prompt_templates(server, client):
    names = [n for n in ("answer_user_capable.txt", "answer_user_multi.txt") if (ROOT / "prompts" / n).exists()]
    assert names, "no numbered-passage prompt in prompts/"
    for template in [(ROOT / "prompts" / n).read_text() for n in names] + [LEGACY_MULTI]:
        user = template.format(passages=PASSAGES, question="When will ferry fares rise?")
        msgs = [{"role": "system", "content": "x"}, {"role": "user", "content": user}]
        assert ask(client, server, msgs=msgs) == "Ferry fares go up in April [2]. The council met on Monday [1]."


def test_rewrite_request_gets_the_standalone_question(server, client):
    template = (ROOT / "prompts" / "rewrite.txt").read_text()
    convo = "Q: What reopened after a restoration?\nA: The old lighthouse [1]."
    prompt = template.format(history=convo, question="What about the lighthouse?")
    assert ask(client, server, msgs=[{"role": "user", "content": prompt}]) == "When did the old lighthouse reopen?"
    # A question without a standalone form comes back unchanged (a model that does not rewrite).
    prompt = template.format(history=convo, question="And the ferry?")
    assert ask(client, server, msgs=[{"role": "user", "content": prompt}]) == "And the ferry?"
    assert server.answers == []  # rewrites are not answers


def test_streaming_gives_the_same_reply(server, client):
    whole = ask(client, server, "When will ferry fares rise?")
    chunks = list(
        client.chat.completions.create(
            model=server.model, messages=messages("When will ferry fares rise?"), stream=True, stream_options={"include_usage": True}
        )
    )
    content = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content) > 3  # word by word
    assert "".join(content) == whole
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == len(whole.split())


def test_models_endpoint_and_fault_injection_still_work(server, client):
    assert [m.id for m in client.models.list().data] == ["replay-model"]
    server.set_fault("rate_limit", times=1)
    with pytest.raises(openai.RateLimitError):
        ask(client, server, "Who runs the ferry?")
    assert ask(client, server, "Who runs the ferry?") == "An operator runs it."


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_fake_server_reply_fn_hook_and_port():
    port = _free_port()
    seen = []

    def reply_fn(body):
        seen.append(body["messages"][-1]["content"])
        return f"echo: {seen[-1]}"

    with FakeOpenAIServer(reply_fn=reply_fn, port=port) as srv, openai.OpenAI(base_url=srv.base_url, api_key="k", max_retries=0) as c:
        assert srv.port == port and srv.base_url == f"http://127.0.0.1:{port}/v1"
        resp = c.chat.completions.create(model="fake-model", messages=[{"role": "user", "content": "hi"}])
        assert resp.choices[0].message.content == "echo: hi"
        assert "".join(
            ch.choices[0].delta.content or ""
            for ch in c.chat.completions.create(model="fake-model", messages=[{"role": "user", "content": "yo"}], stream=True)
            if ch.choices
        ) == "echo: yo"
        srv.reply_fn = lambda body: 1 / 0
        with pytest.raises(openai.InternalServerError, match="reply_fn failed: ZeroDivisionError"):
            c.chat.completions.create(model="fake-model", messages=[{"role": "user", "content": "hi"}])


@pytest.mark.parametrize(
    "bad, message",
    [
        ([{"id": "a", "question": "Q1?", "sentences": [sentence("x.", "p")]}] * 2, "bad.jsonl:2: duplicate id 'a'"),
        ([{"id": "a", "question": "Q1?", "sentences": [sentence("x.", "p", "typo")]}], "'error' must be null or one of"),
        ([{"id": "a", "question": "Q1?", "sentences": [{"text": "x.", "cite": "p", "true": True, "error": "invented"}]}], "false exactly when"),
        ([{"id": "a", "question": "Q1?", "sentences": [{"text": "x.", "cite": "p", "error": "wrong_citation"}]}], "goes with 'cite_wrong'"),
        ([{"id": "a", "question": "Q1?", "sentences": []}], "needs 'sentences'"),
        ([{"id": "a", "question": "Q1?", "sentences": [{"text": "x."}]}], "'cite' must be"),
        (
            [
                {"id": "a", "question": "Q1?", "sentences": [sentence("x.", "p")]},
                {"id": "b", "question": "Q2", "aliases": ["q1"], "sentences": [sentence("x.", "p")]},
            ],
            "'q1' is also reply 'a'",
        ),
    ],
)
def test_bad_replies_file_is_refused_with_its_line(tmp_path, bad, message):
    with pytest.raises(RepliesError, match=message.replace("(", r"\(")):
        load_replies(write_replies(tmp_path / "bad.jsonl", bad))


def test_runs_standalone_as_a_module(tmp_path):
    port = _free_port()
    path = write_replies(tmp_path / "replies.jsonl", TEST_REPLIES)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.replay_openai", "--replies", str(path), "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first: list[str] = []
        reader = threading.Thread(target=lambda: first.append(proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(30)
        assert first and f"http://127.0.0.1:{port}/v1" in first[0], (first, proc.poll())
        with openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="k", max_retries=0, timeout=5.0) as c:
            resp = c.chat.completions.create(model="replay-model", messages=messages("When will ferry fares rise?"))
        assert resp.choices[0].message.content == "Ferry fares go up in April [2]. The council met on Monday [1]."
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert "1 answers, 0 unmatched questions, 0 blind citations" in out
    assert "[replay] t1: Ferry fares go up in April [2]." in err


# -- evals/replies.jsonl ----------------------------------------------------------------


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def replies() -> list[dict]:
    return load_replies(REPLIES)


@pytest.fixture(scope="module")
def answered(replies) -> list[dict]:
    return [r for r in replies if not r.get("refuse")]


def _body(article_file: Path) -> str:
    text = article_file.read_text(encoding="utf-8")
    return text.split("---", 2)[2] if text.startswith("---") else text


def _articles_of(replies) -> dict[str, str]:
    """Raw text of every article a reply names: the bundled corpus and, when present, RealTimeQA's."""
    out = {f.stem: _body(f) for f in (ROOT / "corpus").glob("*.md")}
    wanted = {s for r in replies if r["set"] == "realtimeqa" for s in r["sources"]}
    if RTQA_CORPUS.exists():
        with RTQA_CORPUS.open(encoding="utf-8") as f:
            for line in f:
                record = json.loads(line)
                if record["id"] in wanted:
                    out[record["id"]] = record["text"]
    return out


@pytest.fixture(scope="module")
def articles(replies) -> dict[str, str]:
    return _articles_of(replies)


def _sets_to_check(replies) -> list[str]:
    return ["bundled"] + (["realtimeqa"] if RTQA_CORPUS.exists() and RTQA_DEV.exists() else [])


SCHEMA_KEYS = {"id", "set", "qid", "question", "aliases", "standalone", "answers", "sources", "sentences", "refuse"}
SENTENCE_KEYS = {"text", "cite", "true", "error", "cite_wrong"}


def test_replies_file_shape(replies, answered):
    assert [r["id"] for r in replies] == [f"r{i:02d}" for i in range(1, len(replies) + 1)]
    for r in replies:
        assert set(r) <= SCHEMA_KEYS and {"id", "set", "question", "answers", "sources", "sentences"} <= set(r), r["id"]
        for s in r["sentences"]:
            assert set(s) <= SENTENCE_KEYS and {"text", "cite", "true", "error"} <= set(s), r["id"]
            assert s["cite"] is not None, f"{r['id']}: every hand-written sentence cites a phrase"
        assert 1 <= len(r["sentences"]) <= 2 or r.get("refuse"), r["id"]
    by_set = Counter(r["set"] for r in answered)
    assert len(answered) >= 64 and by_set["bundled"] >= 30 and by_set["realtimeqa"] >= 30, by_set


def test_questions_answers_and_sources_are_the_eval_sets_own(replies):
    sets = {"bundled": {q["id"]: q for q in _jsonl(BUNDLED)}}
    if RTQA_DEV.exists():
        sets["realtimeqa"] = {q["id"]: q for q in _jsonl(RTQA_DEV)}
    checked = 0
    for r in replies:
        if r["set"] not in sets:
            continue
        q = sets[r["set"]][r["qid"]]
        assert r["question"] == q["question"], r["id"]
        assert r["answers"] == q["answers"], r["id"]
        assert r["sources"] == list(dict.fromkeys(q["sources"])), r["id"]
        assert bool(r.get("refuse")) == bool(q.get("unanswerable")), r["id"]
        checked += 1
    assert checked >= 34


def test_error_kinds_are_all_planted(answered):
    kinds = Counter(s["error"] for r in answered for s in r["sentences"] if s["error"])
    assert set(kinds) == ERROR_KINDS
    assert all(n >= 4 for n in kinds.values()), kinds
    true_then_invented = [r["id"] for r in answered if len(r["sentences"]) == 2 and r["sentences"][0]["error"] is None and r["sentences"][1]["error"] == "invented"]
    assert len(true_then_invented) >= 4
    faithful = [r for r in answered if all(s["error"] is None for s in r["sentences"])]
    assert 0.5 <= len(faithful) / len(answered) <= 0.7, (len(faithful), len(answered))
    for r in answered:  # one planted error per reply at most, so each measures one thing
        assert sum(1 for s in r["sentences"] if s["error"]) <= 1, r["id"]


def test_every_cite_phrase_is_verbatim_in_a_source_article(replies, articles):
    from byline.cleaning import clean_text

    sets = _sets_to_check(replies)
    checked = 0
    for r in replies:
        if r["set"] not in sets:
            continue
        for s in r["sentences"]:
            phrase = s["cite"]
            assert 5 <= len(phrase.split()) <= 15, (r["id"], phrase)
            holders = [a for a in r["sources"] if phrase in articles[a]]
            assert holders, f"{r['id']}: {phrase!r} is in none of {r['sources']}"
            # ... and still there once Byline has cleaned the article (what the passages hold).
            assert any(normalise_text(phrase) in normalise_text(clean_text(articles[a])) for a in holders), (r["id"], phrase)
            assert "\n" not in phrase and not any(normalise_text(phrase) == normalise_text(articles[a]) for a in holders)
            checked += 1
    # Every sentence of the sets that can be checked here was checked; with both sets present, at least 40.
    assert checked == sum(len(r["sentences"]) for r in replies if r["set"] in sets)
    if "realtimeqa" in sets:
        assert checked >= 40


def test_faithful_replies_hold_an_accepted_answer(answered):
    from byline.evaluation.metrics import contains_answer

    for r in answered:
        if all(s["true"] for s in r["sentences"]):  # faithful, and right facts cited wrongly
            assert contains_answer(" ".join(s["text"] for s in r["sentences"]), r["answers"]), r["id"]


def test_faithful_sentences_are_not_copies_of_their_phrase(answered):
    for r in answered:
        for s in r["sentences"]:
            assert normalise_text(s["cite"]) not in normalise_text(s["text"]), (r["id"], s["text"])


def test_follow_up_questions_reach_their_reply_through_byline_rewrite(replies):
    """Whatever byline.chat.rewrite makes of a follow-up and the replay's standalone proposal
    (the proposal kept, or the follow-up joined to the question before), the replay finds it."""
    from byline.chat import rewrite
    from byline.types import Turn

    bundled = {q["id"]: q for q in _jsonl(BUNDLED)}
    template = (ROOT / "prompts" / "rewrite.txt").read_text()
    server = ReplayOpenAIServer(REPLIES)  # not started: its rewrite answer is respond()'s

    class Replay:
        def complete(self, messages, max_tokens=64, temperature=0.0):
            return server.respond({"messages": messages})

    follow_ups = [r for r in replies if r.get("standalone")]
    assert len(follow_ups) >= 4
    for r in follow_ups:
        parent = bundled[bundled[r["qid"]]["follow_up_of"]]
        standalone = rewrite(r["question"], [Turn(parent["question"], "An answer.")], Replay(), template)
        assert standalone in (r["standalone"], f"{r['question']} (about: {parent['question']})"), r["id"]
        assert server.find_reply(standalone)["id"] == r["id"]


def test_replay_cites_the_gold_articles_in_a_real_prompt(replies, articles):
    """Each reply against a prompt of a distractor passage then its cleaned gold articles:
    right citations name a gold passage, planted wrong ones a passage without the phrase."""
    from byline.cleaning import clean_text

    sets = _sets_to_check(replies)
    distractor = "[1] Harbour council meets\nThe harbour council met on Monday to discuss the new ferry timetable."
    server = ReplayOpenAIServer(REPLIES)  # not started: respond() is what the handler calls
    for r in replies:
        if r["set"] not in sets:
            continue
        blocks = [distractor] + [f"[{i}] Article {a}\nSource: test\n{clean_text(articles[a])}" for i, a in enumerate(r["sources"], start=2)]
        text = server.respond({"messages": [{"role": "user", "content": user_prompt(r["question"], "\n\n".join(blocks))}]})
        if r.get("refuse"):
            assert text == NOT_FOUND
            continue
        entry = server.answers[-1]
        assert entry["reply_id"] == r["id"] and text != NOT_FOUND
        for s, got in zip(r["sentences"], entry["sentences"]):
            assert got["found_in"] and 1 not in got["found_in"], (r["id"], s["cite"])
            if s.get("cite_wrong"):
                assert got["marker"] not in got["found_in"], r["id"]
            else:
                assert got["marker"] == got["found_in"][0], r["id"]
            assert f"[{got['marker']}]" in text
    assert server.blind == []
    # Standalone questions find their reply too (the engine may ask with either form).
    for r in replies:
        if r.get("standalone"):
            assert server.find_reply(r["standalone"])["id"] == r["id"]


# -- evals/replies_check*.jsonl: replies written blind for the check sets' questions ---------------
CHECK_REPLIES = sorted((ROOT / "evals").glob("replies_check*.jsonl"))


@pytest.mark.parametrize("path", CHECK_REPLIES, ids=lambda p: p.name)
def test_check_replies_answer_their_sets_questions_from_phrases_of_the_gold_articles(path):
    from byline.cleaning import clean_text

    replies = load_replies(path)
    questions = {q["id"]: q for f in (ROOT / "evals").glob("check*.jsonl") for q in _jsonl(f)}
    assert len(replies) >= 40 and len({r["id"] for r in replies}) == len(replies)
    kinds = Counter(s["error"] for r in replies for s in r["sentences"] if s["error"])
    assert set(kinds) == ERROR_KINDS, kinds
    articles = _articles_of(replies)
    bundled = [a for a in articles if not a.startswith("rtqa-")]
    for r in replies:
        q = questions[r["qid"]]
        assert (r["question"], r["answers"]) == (q["question"], q["answers"]), r["id"]
        assert set(r["sources"]) == set(q["sources"]), r["id"]
        # A refusal answers an unanswerable question; so may an invented claim (replies_check6),
        # then every sentence of the reply is a planted one.
        assert not r.get("refuse") or q.get("unanswerable"), r["id"]
        invented = bool(q.get("unanswerable")) and not r.get("refuse")
        assert not invented or (r["sentences"] and not any(s["true"] for s in r["sentences"])), r["id"]
        for s in r["sentences"]:
            if r["set"] == "realtimeqa" and (invented or not RTQA_CORPUS.exists()):
                continue
            # A wrong citation may name a passage of another article (replies_check7 F28, F34).
            elsewhere = invented or (s.get("cite_wrong") and r["set"] == "bundled")
            where = bundled if elsewhere else r["sources"]
            holders = [a for a in where if normalise_text(s["cite"]) in normalise_text(clean_text(articles[a]))]
            assert holders and 5 <= len(s["cite"].split()) <= 15, (r["id"], s["cite"])


# Held-out floors (issue #13), bundled replies only (RealTimeQA is not indexed in CI), each set's
# first run: evals/replies_check3.jsonl (written blind in session 12, run 2026-12-02): faithful
# kept 0.615 (8 of 13), planted caught 0.857 (6 of 7), citation recall 0.833, precision 0.909;
# evals/replies_check5.jsonl (written blind in session 13, run 2026-12-03 on the finished checks):
# 0.889 (24 of 27), 0.857 (6 of 7), 0.848, 0.848; evals/replies_check6.jsonl (written blind in
# session 15, run 2026-12-03 on session 14's checks and on session 15's, never read): 0.714 (20 of
# 28), 0.875 (7 of 8; 0.75 before the 1-logit support threshold), 0.833, 0.926.
REPLAY_FLOORS = {
    "replies_check3": (20, 7, {"faithful_kept": 0.61, "planted_caught": 0.85, "citation_recall": 0.83, "citation_precision": 0.90}),
    "replies_check5": (34, 7, {"faithful_kept": 0.88, "planted_caught": 0.85, "citation_recall": 0.84, "citation_precision": 0.84}),
    "replies_check6": (36, 8, {"faithful_kept": 0.71, "planted_caught": 0.87, "citation_recall": 0.83, "citation_precision": 0.92}),
}


@pytest.mark.parametrize("name", sorted(REPLAY_FLOORS))
def test_held_out_replies_keep_their_floors(tmp_path, name):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import replay_eval

    count, planted, floors = REPLAY_FLOORS[name]
    rows = replay_eval.run(ROOT / "evals" / f"{name}.jsonl", only="bundled", index_dir=tmp_path / "index")
    summary = replay_eval.summarize(rows)
    assert summary["replies"] == count and summary["planted_claims"] == planted, summary
    for key, floor in floors.items():
        assert summary[key] >= floor, f"{key} {summary[key]} fell below {floor}"
