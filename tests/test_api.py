"""The OpenAI-compatible API (/v1) on the chat's own server: the real Gradio server, the real
`openai` client and raw HTTP, on the bundled articles with the extractive backend."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from types import SimpleNamespace

import pytest

from conftest import copy_corpus, make_settings, served

KEY = "test-key-0123456789"
GENEVA = "When was the Geneva summit?"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from byline import Engine

    root = tmp_path_factory.mktemp("api")
    copy_corpus(root / "corpus")
    engine = Engine(make_settings(root, serve_api_key=KEY, max_question_chars=300, api_max_request_kb=64))
    engine.ingest()
    engine.warm_up()
    for url in served(engine):
        yield SimpleNamespace(url=url, engine=engine)
    engine.close()


@pytest.fixture(scope="module")
def client(server):
    from openai import OpenAI

    return OpenAI(base_url=f"{server.url}/v1", api_key=KEY, max_retries=0, timeout=60)


def post(server, body, key: str | None = KEY, raw: bytes | None = None):
    """(status, parsed JSON body) of a raw POST to /v1/chat/completions."""
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    data = raw if raw is not None else json.dumps(body).encode()
    req = urllib.request.Request(f"{server.url}/v1/chat/completions", data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            text = r.read().decode()
            return r.status, text
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_models_lists_byline_and_its_profiles(client):
    ids = [m.id for m in client.models.list().data]
    assert ids[0] == "byline" and "byline-extractive" in ids and "byline-ollama" in ids


def test_geneva_answer_with_sources_non_streamed(client):
    r = client.chat.completions.create(model="byline", messages=[{"role": "user", "content": GENEVA}])
    text = r.choices[0].message.content
    assert "June 2021" in text and "[1]" in text and r.choices[0].finish_reason == "stop"
    extra = r.model_extra
    results = extra["search_results"]
    assert results and results[0]["article_id"].startswith(("000_", "001_"))
    assert results[0]["title"] and "June 2021" in results[0]["sentence"] and results[0]["sentence"] in results[0]["passage"]
    assert extra["citations"] == [x["url"] or f"byline:{x['article_id']}" for x in results]
    assert extra["byline"]["tier"] == "answer" and extra["byline"]["short_answer"] == "June 2021"


def test_streamed_answer_is_the_same_text_and_ends_with_the_sources(client):
    plain = client.chat.completions.create(model="byline", messages=[{"role": "user", "content": GENEVA}]).choices[0].message.content
    chunks = list(client.chat.completions.create(model="byline", messages=[{"role": "user", "content": GENEVA}], stream=True))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == plain
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert last.model_extra["search_results"][0]["article_id"].startswith(("000_", "001_")) and last.model_extra["citations"]


def test_a_follow_up_in_messages_is_resolved(client):
    messages = [
        {"role": "system", "content": "You are helpful."},  # a client's own system prompt is ignored
        {"role": "user", "content": GENEVA},
        {"role": "assistant", "content": "June 2021 [1]"},
        {"role": "user", "content": [{"type": "text", "text": "who met there?"}]},  # content as parts
    ]
    r = client.chat.completions.create(model="byline", messages=messages)
    searched = r.model_extra["byline"]["standalone_question"]
    assert searched and "Geneva" in searched
    assert any(name in r.choices[0].message.content for name in ("Biden", "Putin"))


def test_sources_can_be_appended_as_text(client):
    r = client.chat.completions.create(model="byline", messages=[{"role": "user", "content": GENEVA}], extra_body={"sources_in_text": True})
    text = r.choices[0].message.content
    assert "\n\nSources:\n[1] " in text


def test_a_profile_names_a_backend_and_an_unknown_model_is_404(client, server):
    import openai

    r = client.chat.completions.create(model="byline-extractive", messages=[{"role": "user", "content": GENEVA}])
    assert r.model == "byline-extractive" and r.model_extra["byline"]["mode"] == "extractive"
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": GENEVA}])
    assert "does not exist" in str(info.value) and "/v1/models" in str(info.value)


def test_wrong_or_missing_key_is_401(server):
    for key in ("wrong", None):
        status, text = post(server, {"model": "byline", "messages": [{"role": "user", "content": GENEVA}]}, key=key)
        assert status == 401, text
        assert json.loads(text)["error"]["type"] == "authentication_error"
    req = urllib.request.Request(f"{server.url}/v1/models")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=30)
    assert info.value.code == 401


@pytest.mark.parametrize(
    "body, raw, status, words",
    [
        (None, b"{not json", 400, "not valid JSON"),
        (None, b"[1, 2]", 400, "JSON object"),
        ({"model": "byline"}, None, 400, "messages"),
        ({"model": "byline", "messages": []}, None, 400, "messages"),
        ({"model": "byline", "messages": [{"role": "assistant", "content": "hi"}]}, None, 400, "role 'user'"),
        ({"model": "byline", "messages": [{"role": "user", "content": "   "}]}, None, 400, "question"),
        ({"model": "byline", "messages": [{"role": "user", "content": "why " * 200}]}, None, 413, "characters long"),
        ({"model": "byline", "messages": [{"role": "user", "content": 42}]}, None, 400, "messages"),
        (None, b'{"model": "byline", "messages": [{"role": "user", "content": "' + b"x" * 70_000 + b'"}]}', 413, "limit"),
    ],
)
def test_bad_requests_get_an_openai_style_error_and_no_traceback(server, body, raw, status, words):
    got, text = post(server, body, raw=raw)
    assert got == status, text
    error = json.loads(text)["error"]
    assert words.lower() in error["message"].lower(), error
    assert error["type"] and "Traceback" not in text and 'File "' not in text
