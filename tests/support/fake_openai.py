"""A small, real HTTP server that speaks the OpenAI chat-completions protocol.

Used by the test suite to drive the real ``openai`` client (and anything built on
it) against a server whose behaviour can be switched to inject faults::

    with FakeOpenAIServer(reply="Hi there.") as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
        server.set_fault("rate_limit", times=1, retry_after=2)
        ...

Endpoints
    ``GET  /v1/models``            lists ``server.model``
    ``POST /v1/chat/completions``  non-streaming JSON, or SSE when ``"stream": true``

Streaming responses use chunked transfer encoding (like the real API), so a
connection that is cut mid-stream is detectable by the client.

Faults (``set_fault(name, times=N, **opts)``) apply to the next ``N``
chat-completion requests (``times=None``: until ``set_fault(None)``):

    timeout         sleep ``delay`` (default 5.0) s, then answer normally
    rate_limit      429 + ``Retry-After: <retry_after>`` (default 1)
    server_error    500 with an OpenAI-style error body
    malformed_json  200, ``application/json``, body that is not valid JSON;
                    streaming: an SSE event whose data is truncated JSON
    garbage         200 valid JSON of the wrong shape; streaming: non-JSON SSE data
    stream_cut      streaming: ``chunks`` (default 3) content chunks then the
                    connection is dropped (no finish_reason, no [DONE]);
                    non-streaming: connection dropped halfway through the body
    unauthorized    401 ``invalid_api_key`` regardless of the key
    unknown_model   404 ``model_not_found`` regardless of the model

Reply hook: ``FakeOpenAIServer(reply_fn=fn)`` answers each chat completion with
``fn(request_json)`` (the parsed request body) instead of the fixed ``reply``; faults
apply as usual. If ``fn`` raises, the request gets a 500 ``server_error`` naming the
exception. ``port=N`` binds 127.0.0.1:N instead of a free port (0).

Only the standard library is used.
"""

from __future__ import annotations

import json
import re
import socket
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

__all__ = ["FAULTS", "FakeOpenAIServer"]

FAULTS = frozenset(
    {
        "timeout",
        "rate_limit",
        "server_error",
        "malformed_json",
        "garbage",
        "stream_cut",
        "unauthorized",
        "unknown_model",
    }
)

_CHUNK_DELAY = 0.005  # seconds between streamed chunks, so clients see them arrive separately
_JOIN_TIMEOUT = 5.0


def _split_reply(text: str) -> list[str]:
    """Split ``text`` into word-sized pieces that concatenate back to ``text`` exactly."""
    return re.findall(r"\s*\S+\s*", text) or ([text] if text else [])


def _error_body(message: str, type_: str, code: str | None, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer that tracks its handler threads and open connections so that
    shutdown can unblock and join them (keep-alive connections would otherwise sit in
    ``readline`` until the client goes away)."""

    daemon_threads = True  # never block interpreter exit, whatever happens
    allow_reuse_address = True

    def __init__(self, owner: FakeOpenAIServer) -> None:
        self.owner = owner
        self._track_lock = threading.Lock()
        self._handler_threads: set[threading.Thread] = set()
        self._connections: set[socket.socket] = set()
        super().__init__(("127.0.0.1", owner._requested_port), _Handler)

    def process_request(self, request, client_address):  # type: ignore[override]
        thread = threading.Thread(
            target=self._run_handler,
            args=(request, client_address),
            name=f"fake-openai-conn-{client_address[1]}",
            daemon=True,
        )
        with self._track_lock:
            self._handler_threads.add(thread)
            self._connections.add(request)
        thread.start()

    def _run_handler(self, request, client_address) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._track_lock:
                self._handler_threads.discard(threading.current_thread())

    def shutdown_request(self, request) -> None:  # type: ignore[override]
        with self._track_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request, client_address) -> None:  # type: ignore[override]
        # Clients hanging up (timeouts, cut streams, shutdown) are expected here; stay quiet.
        exc = sys.exc_info()[1]
        if isinstance(exc, (OSError, ValueError)):
            return
        super().handle_error(request, client_address)

    def close_connections_and_join(self, timeout: float) -> None:
        with self._track_lock:
            connections = list(self._connections)
            threads = list(self._handler_threads)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeOpenAI/1.0"
    server: _Server

    # -- plumbing ---------------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    @property
    def owner(self) -> FakeOpenAIServer:
        return self.server.owner

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload).encode()
        self._send_raw(status, body, "application/json", headers)

    def _send_raw(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-request-id", f"req_{uuid.uuid4().hex}")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _drop_connection(self) -> None:
        """Abruptly close the connection (no proper end of the HTTP message)."""
        self.close_connection = True
        try:
            self.wfile.flush()
        except OSError:
            pass
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _path(self) -> str:
        return self.path.split("?", 1)[0].rstrip("/")

    def _authorized(self) -> bool:
        key = self.owner.api_key
        return key is None or self.headers.get("Authorization", "") == f"Bearer {key}"

    def _send_unauthorized(self) -> None:
        self._send_json(
            401,
            _error_body(
                "Incorrect API key provided. You can find your API key at the fake server's owner.",
                "invalid_request_error",
                "invalid_api_key",
            ),
        )

    def _send_unknown_model(self, model: Any) -> None:
        self._send_json(
            404,
            _error_body(
                f"The model `{model}` does not exist",
                "invalid_request_error",
                "model_not_found",
            ),
        )

    # -- endpoints --------------------------------------------------------------

    def do_GET(self) -> None:
        if self._path() != "/v1/models":
            self._send_json(404, _error_body(f"Unknown path {self.path}", "invalid_request_error", None))
            return
        if not self._authorized():
            self._send_unauthorized()
            return
        self._send_json(
            200,
            {
                "object": "list",
                "data": [
                    {"id": self.owner.model, "object": "model", "created": 0, "owned_by": "fake-openai"}
                ],
            },
        )

    def do_POST(self) -> None:
        raw = self._read_body()
        if self._path() != "/v1/chat/completions":
            self._send_json(404, _error_body(f"Unknown path {self.path}", "invalid_request_error", None))
            return
        try:
            body = json.loads(raw or b"null")
            if not isinstance(body, dict):
                raise ValueError("body is not a JSON object")
        except ValueError:
            self.owner._record({"_invalid_json": raw.decode("utf-8", "replace")}, self.headers)
            self._send_json(
                400, _error_body("We could not parse the JSON body of your request.", "invalid_request_error", None)
            )
            return

        fault, opts, reply = self.owner._record(body, self.headers)
        stream = bool(body.get("stream"))

        if fault == "timeout":
            if self.owner._stopping.wait(float(opts.get("delay", 5.0))):
                self._drop_connection()  # server shutting down: don't keep anyone waiting
                return
            fault = None  # then answer normally
        if fault == "rate_limit":
            self._send_json(
                429,
                _error_body(
                    "Rate limit reached for requests on the fake server. Please try again later.",
                    "requests",
                    "rate_limit_exceeded",
                ),
                headers={"Retry-After": str(opts.get("retry_after", 1))},
            )
            return
        if fault == "server_error":
            self._send_json(
                500,
                _error_body("The server had an error while processing your request.", "server_error", None),
            )
            return
        if fault == "unauthorized" or (fault is None and not self._authorized()):
            self._send_unauthorized()
            return
        model = body.get("model")
        if fault == "unknown_model" or (fault is None and model != self.owner.model):
            if fault is None and model is None:
                self._send_json(
                    400,
                    _error_body("you must provide a model parameter", "invalid_request_error", None, "model"),
                )
                return
            self._send_unknown_model(model)
            return
        if fault == "malformed_json" and not stream:
            self._send_raw(200, b'{"choices": [ {"message": ', "application/json")
            return
        if fault == "garbage" and not stream:
            self._send_json(200, {"hello": "world"})
            return

        if self.owner.reply_fn is not None:
            try:
                reply = str(self.owner.reply_fn(body))
            except Exception as exc:  # a broken reply function is the server's error, not the client's
                self._send_json(
                    500, _error_body(f"reply_fn failed: {type(exc).__name__}: {exc}", "server_error", None)
                )
                return

        if stream:
            self._stream_completion(body, reply, fault, opts)
        else:
            self._complete(body, reply, fault)

    # -- completions ------------------------------------------------------------

    def _complete(self, body: dict[str, Any], reply: str, fault: str | None) -> None:
        payload = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.owner.model,
            "system_fingerprint": "fp_fake",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": reply, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": _usage(body, reply),
        }
        if fault != "stream_cut":
            self._send_json(200, payload)
            return
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2])
        self._drop_connection()

    def _stream_completion(
        self, body: dict[str, Any], reply: str, fault: str | None, opts: dict[str, Any]
    ) -> None:
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
            return {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": self.owner.model,
                "system_fingerprint": "fp_fake",
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
            }

        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("x-request-id", f"req_{uuid.uuid4().hex}")
        self.end_headers()

        if fault == "garbage":
            for line in ("this is not json", "{still: not json", "<html>oops</html>"):
                self._write_event(line)
            self._write_event("[DONE]")
            self._end_chunked()
            return

        if fault == "malformed_json":
            self._write_event(json.dumps(chunk({"role": "assistant", "content": "", "refusal": None})))
            self._write_event('{"id": "%s", "object": "chat.completion.chunk", "choices": [ {"delta": ' % completion_id)
            self._write_event("[DONE]")
            self._end_chunked()
            return

        pieces = _split_reply(reply)
        if fault == "stream_cut":
            keep = int(opts.get("chunks", 3))
            if len(pieces) > 1:
                keep = min(keep, len(pieces) - 1)  # never deliver the whole reply
            pieces = pieces[:keep]

        self._write_event(json.dumps(chunk({"role": "assistant", "content": "", "refusal": None})))
        for piece in pieces:
            if self.owner._stopping.wait(_CHUNK_DELAY):
                self._drop_connection()
                return
            self._write_event(json.dumps(chunk({"content": piece})))

        if fault == "stream_cut":
            self._drop_connection()
            return

        self._write_event(json.dumps(chunk({}, "stop")))
        if (body.get("stream_options") or {}).get("include_usage"):
            final = chunk({})
            final["choices"] = []
            final["usage"] = _usage(body, reply)
            self._write_event(json.dumps(final))
        self._write_event("[DONE]")
        self._end_chunked()

    def _write_event(self, data: str) -> None:
        payload = f"data: {data}\n\n".encode()
        self.wfile.write(f"{len(payload):X}\r\n".encode() + payload + b"\r\n")
        self.wfile.flush()

    def _end_chunked(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def _usage(body: dict[str, Any], reply: str) -> dict[str, int]:
    prompt_tokens = 0
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            prompt_tokens += len(content.split())
        elif isinstance(content, list):
            prompt_tokens += sum(
                len(part.get("text", "").split()) for part in content if isinstance(part, dict)
            )
    completion_tokens = len(reply.split())
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


class FakeOpenAIServer:
    """OpenAI-compatible chat-completions server on 127.0.0.1 with injectable faults.

    Use as a context manager (or call :meth:`start` / :meth:`stop`).
    """

    def __init__(
        self,
        reply: str = "Hello from the fake server.",
        model: str = "fake-model",
        api_key: str | None = None,
        reply_fn: Callable[[dict], str] | None = None,
        port: int = 0,
    ) -> None:
        self.reply = reply
        self.reply_fn = reply_fn
        self.model = model
        self.api_key = api_key
        self.requests: list[dict] = []
        self.auth_headers: list[str] = []
        self.port: int = 0
        self._requested_port = port
        self.base_url: str = ""
        self._lock = threading.Lock()
        self._fault: str | None = None
        self._fault_times: int | None = None
        self._fault_opts: dict[str, Any] = {}
        self._stopping = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------

    def start(self) -> FakeOpenAIServer:
        if self._httpd is not None:
            raise RuntimeError("FakeOpenAIServer already started")
        self._stopping.clear()
        self._httpd = _Server(self)
        self.port = self._httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-openai-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self._stopping.set()  # wakes sleeping "timeout" faults and streams
        httpd.shutdown()  # stop accepting; returns once serve_forever has exited
        httpd.close_connections_and_join(_JOIN_TIMEOUT)
        httpd.server_close()
        if thread is not None:
            thread.join(_JOIN_TIMEOUT)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.stop()

    # -- faults -----------------------------------------------------------------

    def set_fault(self, fault: str | None, times: int | None = None, **opts: Any) -> None:
        """Make the next ``times`` chat-completion requests misbehave as ``fault``.

        ``times=None`` keeps the fault until ``set_fault(None)``. Options:
        ``delay`` (timeout), ``retry_after`` (rate_limit), ``chunks`` (stream_cut).
        """
        if fault is not None and fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; expected one of {sorted(FAULTS)}")
        if times is not None and times < 1:
            raise ValueError("times must be >= 1 or None")
        with self._lock:
            self._fault = fault
            self._fault_times = None if fault is None else times
            self._fault_opts = dict(opts) if fault is not None else {}

    def _record(self, body: dict, headers: Any) -> tuple[str | None, dict[str, Any], str]:
        """Record a chat-completion request; return (fault to apply, its opts, reply text)."""
        with self._lock:
            self.requests.append(body)
            self.auth_headers.append(headers.get("Authorization", ""))
            fault, opts = self._fault, self._fault_opts
            if fault is not None and self._fault_times is not None:
                self._fault_times -= 1
                if self._fault_times <= 0:
                    self._fault, self._fault_times, self._fault_opts = None, None, {}
            return fault, opts, self.reply
