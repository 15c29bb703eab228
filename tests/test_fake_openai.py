"""Tests for the fault-injecting fake OpenAI server, driven by the real ``openai`` client.

These also document what the client raises for each fault, which is what code under
test will see in production when a real server misbehaves the same way.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import threading
import time

import openai
import pytest

from support.fake_openai import FakeOpenAIServer

MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Say hello."},
]


@pytest.fixture
def server():
    with FakeOpenAIServer() as srv:
        yield srv


def make_client(srv: FakeOpenAIServer, timeout: float = 5.0, api_key: str = "test-key") -> openai.OpenAI:
    return openai.OpenAI(base_url=srv.base_url, api_key=api_key, max_retries=0, timeout=timeout)


@pytest.fixture
def client(server):
    with make_client(server) as c:
        yield c


def complete(client: openai.OpenAI, **kwargs):
    kwargs.setdefault("model", "fake-model")
    kwargs.setdefault("messages", MESSAGES)
    return client.chat.completions.create(**kwargs)


def stream_chunks(client: openai.OpenAI, **kwargs) -> list:
    """Consume a streaming completion; the chunks received before any error are kept on
    the exception as ``exc.chunks_before_error``."""
    chunks: list = []
    try:
        for chunk in complete(client, stream=True, **kwargs):
            chunks.append(chunk)
    except BaseException as exc:
        exc.chunks_before_error = chunks  # type: ignore[attr-defined]
        raise
    return chunks


def content_of(chunks) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


# -- normal behaviour --------------------------------------------------------------


def test_base_url_and_port(server):
    assert server.port > 0
    assert server.base_url == f"http://127.0.0.1:{server.port}/v1"


def test_models_lists_configured_model():
    with FakeOpenAIServer(model="my-model") as srv, make_client(srv) as c:
        assert [m.id for m in c.models.list().data] == ["my-model"]


def test_non_streaming_completion_shape(server, client):
    resp = complete(client)
    assert resp.object == "chat.completion"
    assert resp.id.startswith("chatcmpl-")
    assert resp.model == "fake-model"
    assert isinstance(resp.created, int)
    assert resp.choices[0].message.role == "assistant"
    assert resp.choices[0].message.content == "Hello from the fake server."
    assert resp.choices[0].finish_reason == "stop"
    assert resp.usage.completion_tokens > 0
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens


def test_reply_is_settable(server, client):
    server.reply = "Something else entirely."
    assert complete(client).choices[0].message.content == "Something else entirely."


def test_streaming_arrives_in_pieces_and_joins_to_reply(server, client):
    server.reply = "The quick brown fox jumps over the lazy dog."
    arrivals: list[tuple[float, str]] = []
    finish_reasons = []
    for chunk in complete(client, stream=True):
        assert chunk.object == "chat.completion.chunk"
        choice = chunk.choices[0]
        if choice.delta.content:
            arrivals.append((time.monotonic(), choice.delta.content))
        finish_reasons.append(choice.finish_reason)
    pieces = [p for _, p in arrivals]
    assert len(pieces) > 1
    assert "".join(pieces) == server.reply
    assert finish_reasons[-1] == "stop"
    assert finish_reasons[:-1] == [None] * (len(finish_reasons) - 1)
    # Each piece is flushed separately, a few ms apart, so the client sees them trickle in.
    assert arrivals[-1][0] - arrivals[0][0] > 0.01


def test_streaming_include_usage(server, client):
    chunks = stream_chunks(client, stream_options={"include_usage": True})
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens == len(server.reply.split())
    assert content_of(chunks) == server.reply


def test_async_client_streams_too(server):
    async def run() -> str:
        async with openai.AsyncOpenAI(base_url=server.base_url, api_key="k", max_retries=0, timeout=5) as c:
            stream = await c.chat.completions.create(model="fake-model", messages=MESSAGES, stream=True)
            return "".join([ch.choices[0].delta.content or "" async for ch in stream if ch.choices])

    assert asyncio.run(run()) == server.reply


def test_sse_wire_format(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        body = json.dumps({"model": "fake-model", "messages": MESSAGES, "stream": True})
        conn.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
        resp = conn.getresponse()
        assert resp.status == 200
        assert resp.getheader("Content-Type").startswith("text/event-stream")
        assert resp.getheader("Transfer-Encoding") == "chunked"
        raw = resp.read().decode()
    finally:
        conn.close()
    events = [e for e in raw.split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"
    last = json.loads(events[-2][len("data: "):])
    assert last["choices"][0]["finish_reason"] == "stop"


def test_requests_and_auth_headers_are_recorded(server, client):
    complete(client, temperature=0.0)
    complete(client, stream=True).close()
    assert len(server.requests) == 2
    assert server.requests[0]["messages"] == MESSAGES
    assert server.requests[0]["model"] == "fake-model"
    assert server.requests[0]["temperature"] == 0.0
    assert server.requests[1]["stream"] is True
    assert server.auth_headers == ["Bearer test-key", "Bearer test-key"]


def test_requests_recorded_in_order_from_many_threads(server, client):
    def ask(i: int) -> None:
        complete(client, messages=[{"role": "user", "content": f"q{i}"}])

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r["messages"][0]["content"] for r in server.requests) == [f"q{i}" for i in range(8)]
    assert len(server.auth_headers) == 8


# -- api key and model checks -----------------------------------------------------


def test_api_key_enforced():
    with FakeOpenAIServer(api_key="sekrit") as srv:
        with make_client(srv, api_key="wrong") as bad:
            with pytest.raises(openai.AuthenticationError) as info:
                complete(bad)
            assert info.value.status_code == 401
            assert info.value.code == "invalid_api_key"
            assert info.value.type == "invalid_request_error"
            with pytest.raises(openai.AuthenticationError):
                bad.models.list()
        with make_client(srv, api_key="sekrit") as good:
            assert complete(good).choices[0].message.content == srv.reply
            assert [m.id for m in good.models.list().data] == ["fake-model"]
        assert srv.auth_headers == ["Bearer wrong", "Bearer sekrit"]


def test_wrong_model_is_404(server, client):
    with pytest.raises(openai.NotFoundError) as info:
        complete(client, model="gpt-nonexistent")
    assert info.value.status_code == 404
    assert info.value.code == "model_not_found"
    assert "The model `gpt-nonexistent` does not exist" in info.value.message
    assert server.requests[-1]["model"] == "gpt-nonexistent"


# -- faults -------------------------------------------------------------------------


def test_unknown_fault_rejected(server):
    with pytest.raises(ValueError):
        server.set_fault("bogus")
    with pytest.raises(ValueError):
        server.set_fault("timeout", times=0)


@pytest.mark.parametrize("stream", [False, True])
def test_fault_timeout(server, stream):
    server.set_fault("timeout", times=1, delay=2)
    with make_client(server, timeout=0.5) as c:
        started = time.monotonic()
        with pytest.raises(openai.APITimeoutError):
            if stream:
                stream_chunks(c)
            else:
                complete(c)
        assert time.monotonic() - started < 1.5
    assert len(server.requests) == 1


def test_fault_timeout_answers_normally_after_delay(server):
    server.set_fault("timeout", times=1, delay=0.3)
    with make_client(server, timeout=5) as c:
        started = time.monotonic()
        assert complete(c).choices[0].message.content == server.reply
        assert time.monotonic() - started >= 0.3


@pytest.mark.parametrize("stream", [False, True])
def test_fault_rate_limit(server, client, stream):
    server.set_fault("rate_limit", retry_after=7)
    with pytest.raises(openai.RateLimitError) as info:
        complete(client, stream=stream)
    assert info.value.status_code == 429
    assert info.value.response.headers["Retry-After"] == "7"
    assert info.value.code == "rate_limit_exceeded"


def test_fault_rate_limit_default_retry_after(server, client):
    server.set_fault("rate_limit")
    with pytest.raises(openai.RateLimitError) as info:
        complete(client)
    assert info.value.response.headers["retry-after"] == "1"


@pytest.mark.parametrize("stream", [False, True])
def test_fault_server_error(server, client, stream):
    server.set_fault("server_error")
    with pytest.raises(openai.InternalServerError) as info:
        complete(client, stream=stream)
    assert info.value.status_code == 500
    assert info.value.type == "server_error"


def test_fault_malformed_json_non_streaming(server, client):
    # The client does not wrap this: a bare json.JSONDecodeError (a ValueError, *not* an
    # openai.OpenAIError) escapes from create().
    server.set_fault("malformed_json")
    with pytest.raises(json.JSONDecodeError) as info:
        complete(client)
    assert not isinstance(info.value, openai.OpenAIError)


def test_fault_malformed_json_streaming(server, client):
    # The role chunk arrives, then the truncated JSON event raises a bare JSONDecodeError
    # while iterating.
    server.set_fault("malformed_json")
    with pytest.raises(json.JSONDecodeError) as info:
        stream_chunks(client)
    assert len(info.value.chunks_before_error) == 1
    assert info.value.chunks_before_error[0].choices[0].delta.role == "assistant"


def test_fault_garbage_non_streaming(server, client):
    # No exception: the client builds a ChatCompletion without validation, with every
    # field None (and the unexpected key kept as an extra). Callers blow up later on
    # resp.choices[0] with a TypeError.
    server.set_fault("garbage")
    resp = complete(client)
    assert isinstance(resp, openai.types.chat.ChatCompletion)
    assert resp.choices is None
    assert resp.id is None
    assert resp.model_extra == {"hello": "world"}
    with pytest.raises(TypeError):
        resp.choices[0]  # noqa: B018


def test_fault_garbage_streaming(server, client):
    # Non-JSON SSE data: a bare json.JSONDecodeError on the first chunk, nothing yielded.
    server.set_fault("garbage")
    with pytest.raises(json.JSONDecodeError) as info:
        stream_chunks(client)
    assert info.value.chunks_before_error == []


def test_fault_stream_cut_streaming(server, client):
    # The stream is chunked, so the client notices the missing terminator:
    # openai.APIConnectionError (cause: httpx RemoteProtocolError "incomplete chunked
    # read") after the first content pieces, with no finish_reason seen.
    server.set_fault("stream_cut")
    with pytest.raises(openai.APIConnectionError) as info:
        stream_chunks(client)
    assert not isinstance(info.value, openai.APITimeoutError)
    chunks = info.value.chunks_before_error
    text = content_of(chunks)
    assert text == "Hello from the "  # 3 content chunks
    assert server.reply.startswith(text) and text != server.reply
    assert all(c.choices[0].finish_reason is None for c in chunks)


def test_fault_stream_cut_chunks_option(server, client):
    server.set_fault("stream_cut", chunks=1)
    with pytest.raises(openai.APIConnectionError) as info:
        stream_chunks(client)
    assert content_of(info.value.chunks_before_error) == "Hello "


def test_fault_stream_cut_non_streaming(server, client):
    server.set_fault("stream_cut")
    with pytest.raises(openai.APIConnectionError) as info:
        complete(client)
    assert not isinstance(info.value, openai.APITimeoutError)


@pytest.mark.parametrize("stream", [False, True])
def test_fault_unauthorized(server, client, stream):
    server.set_fault("unauthorized")
    with pytest.raises(openai.AuthenticationError) as info:
        complete(client, stream=stream)
    assert info.value.code == "invalid_api_key"


@pytest.mark.parametrize("stream", [False, True])
def test_fault_unknown_model(server, client, stream):
    server.set_fault("unknown_model")
    with pytest.raises(openai.NotFoundError) as info:
        complete(client, stream=stream)
    assert info.value.code == "model_not_found"
    assert "The model `fake-model` does not exist" in info.value.message


def test_fault_times_one_then_recovers(server, client):
    server.set_fault("server_error", times=1)
    with pytest.raises(openai.InternalServerError):
        complete(client)
    assert complete(client).choices[0].message.content == server.reply
    assert content_of(stream_chunks(client)) == server.reply


def test_fault_times_counts_requests(server, client):
    server.set_fault("rate_limit", times=2)
    for _ in range(2):
        with pytest.raises(openai.RateLimitError):
            complete(client)
    assert complete(client).choices[0].finish_reason == "stop"


def test_fault_without_times_persists_until_cleared(server, client):
    server.set_fault("server_error")
    for _ in range(3):
        with pytest.raises(openai.InternalServerError):
            complete(client)
    server.set_fault(None)
    assert complete(client).choices[0].message.content == server.reply


def test_faulted_requests_are_recorded(server, client):
    server.set_fault("server_error", times=1)
    with pytest.raises(openai.InternalServerError):
        complete(client, messages=[{"role": "user", "content": "first"}])
    complete(client, messages=[{"role": "user", "content": "second"}])
    assert [r["messages"][0]["content"] for r in server.requests] == ["first", "second"]
    assert len(server.auth_headers) == 2


def test_models_endpoint_ignores_faults(server, client):
    server.set_fault("server_error")
    assert [m.id for m in client.models.list().data] == ["fake-model"]
    assert server.requests == []


# -- shutdown -----------------------------------------------------------------------


def _fake_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("fake-openai")]


def test_shutdown_is_clean_and_fast_even_mid_request():
    before = set(_fake_threads())
    outcome: list[BaseException] = []
    srv = FakeOpenAIServer()
    with srv:
        port = srv.port
        idle = make_client(srv)
        complete(idle)  # leaves an idle keep-alive connection in the client's pool
        srv.set_fault("timeout", delay=30)
        slow = make_client(srv, timeout=10)

        def hang() -> None:
            try:
                complete(slow)
            except BaseException as exc:  # noqa: BLE001
                outcome.append(exc)

        waiter = threading.Thread(target=hang)
        waiter.start()
        deadline = time.monotonic() + 5
        while len(srv.requests) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        started = time.monotonic()
    assert time.monotonic() - started < 2.0
    waiter.join(5)
    assert not waiter.is_alive()
    assert outcome and isinstance(outcome[0], openai.APIConnectionError)
    assert set(_fake_threads()) <= before
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    idle.close()
    slow.close()


def test_many_servers_in_sequence_leave_no_threads():
    before = set(_fake_threads())
    for _ in range(5):
        with FakeOpenAIServer() as srv, make_client(srv) as c:
            assert content_of(stream_chunks(c)) == srv.reply
    assert set(_fake_threads()) <= before
