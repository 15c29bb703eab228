"""Every generator behind the `openai` client: the embedded llama.cpp server, OpenAI, or any
OpenAI-compatible server. Faults become a `GeneratorError` carrying one sentence for the user;
bounded retries with backoff where a retry can help (429, 5xx, timeouts, dropped connections).
"""

from __future__ import annotations

import atexit
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from byline.config import Settings

MAX_RETRY_AFTER = 5.0


class GeneratorError(RuntimeError):
    """A backend failure, with a message fit to show a user (never the key, never a traceback)."""


class OpenAIGenerator:
    def __init__(self, name: str, base_url: str | None, api_key: str | None, model: str, timeout: float, max_retries: int):
        import openai

        self.name = name
        self.model = model
        self.max_retries = max_retries
        self._key = api_key or ""
        # Our own retry loop (below) knows which faults deserve a retry; the client's is off.
        self.client = openai.OpenAI(base_url=base_url, api_key=api_key or "not-needed", timeout=timeout, max_retries=0)
        self.where = base_url or "the OpenAI API"

    def stream(self, messages: list[dict], max_tokens: int = 64, temperature: float = 0.0) -> Iterator[str]:
        """Yield answer text as it arrives. Retries only before the first piece is out."""
        attempt = 0
        while True:
            produced = False
            try:
                stream = self.client.chat.completions.create(
                    model=self.model, messages=messages, max_tokens=max_tokens, temperature=temperature, stream=True
                )
                finished = False
                for chunk in stream:
                    if not hasattr(chunk, "choices") or chunk.choices is None:
                        raise GeneratorError(f"{self.where} sent a reply that is not a chat completion.")
                    if not chunk.choices:
                        continue
                    choice = chunk.choices[0]
                    piece = getattr(choice.delta, "content", None) if choice.delta else None
                    if piece:
                        produced = True
                        yield piece
                    if choice.finish_reason:
                        finished = True
                if not finished and not produced:
                    raise GeneratorError(f"{self.where} ended the answer before sending anything.")
                return
            except GeneratorError:
                raise
            except Exception as exc:  # the openai client raises its own errors and, for bad JSON, json's
                retry_in, message = self._classify(exc)
                if produced:
                    raise GeneratorError(f"The answer from {self.where} was cut off midway.") from exc
                if retry_in is None or attempt >= self.max_retries:
                    raise GeneratorError(self._scrub(message)) from exc
                attempt += 1
                time.sleep(retry_in * (2 ** (attempt - 1)))

    def complete(self, messages: list[dict], max_tokens: int = 64, temperature: float = 0.0) -> str:
        return "".join(self.stream(messages, max_tokens, temperature))

    def _classify(self, exc: Exception) -> tuple[float | None, str]:
        """(seconds before a retry or None for no retry, the user-facing sentence)."""
        import openai

        where = self.where
        if isinstance(exc, openai.APITimeoutError):
            return 0.5, f"{where} did not answer in time."
        if isinstance(exc, openai.APIConnectionError):
            return 0.5, f"Cannot reach the language model at {where} (connection failed)."
        if isinstance(exc, openai.AuthenticationError):
            return None, f"{where} refused the API key (401): check the key."
        if isinstance(exc, openai.PermissionDeniedError):
            return None, f"{where} denied access (403)."
        if isinstance(exc, openai.NotFoundError):
            return None, f"{where} does not know the model {self.model!r} (404)."
        if isinstance(exc, openai.RateLimitError):
            wait = _retry_after(exc.response) if exc.response is not None else 1.0
            return min(wait, MAX_RETRY_AFTER), f"{where} is rate-limiting requests (429); try again shortly."
        if isinstance(exc, openai.InternalServerError):
            return 0.5, f"{where} had an internal error ({exc.status_code})."
        if isinstance(exc, openai.APIStatusError):
            return None, f"{where} rejected the request ({exc.status_code})."
        if isinstance(exc, (json.JSONDecodeError, ValueError, TypeError, AttributeError)):
            return 0.2, f"{where} sent a malformed reply."
        return None, f"The language model at {where} failed ({type(exc).__name__})."

    def _scrub(self, text: str) -> str:
        return text.replace(self._key, "****") if self._key else text


def _retry_after(response: httpx.Response) -> float:
    value = response.headers.get("retry-after", "1")
    try:
        return max(0.0, float(value))
    except ValueError:
        return 1.0


class LocalServer:
    """The packaged GGUF served by llama.cpp in a child process on 127.0.0.1, started on first use."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self.port: int | None = None

    @property
    def model_path(self) -> Path:
        from byline.llama_server import packaged_gguf

        return Path(self.settings.model_path) if self.settings.model_path else packaged_gguf()

    def base_url(self) -> str:
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._start()
        return f"http://127.0.0.1:{self.port}/v1"

    def _start(self) -> None:
        model = self.model_path
        if not model.is_file():
            raise GeneratorError(f"The model file {model} does not exist.")
        self.port = _free_port()
        log_dir = Path(self.settings.index_dir).parent / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        log = open(log_dir / "llama-server.log", "ab")
        s = self.settings
        cmd = [
            sys.executable, "-m", "byline.llama_server", "--model", str(model), "--port", str(self.port),
            "--ctx", str(s.llm_ctx), "--parallel", str(s.llm_parallel), "--threads", str(s.llm_threads),
            "--cache-ram-mib", str(s.llm_cache_ram_mib),
            *(["--widen-cache", str(s.model_cache_dir)] if s.llm_widen_q8 else []),
        ]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        self._proc = proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=env)
        atexit.register(self.stop)
        deadline = time.monotonic() + 60
        # The child prints READY once the HTTP server is up; /health says 200 once the model is loaded.
        # `proc`, not self._proc: stop() on another thread (the engine closing) may clear that meanwhile.
        line = proc.stdout.readline().decode(errors="replace") if proc.stdout else ""
        while time.monotonic() < deadline:
            if proc.poll() is not None or not line.startswith("READY"):
                self.stop()
                raise GeneratorError(f"The local model server failed to start; see {log_dir / 'llama-server.log'}.")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise GeneratorError("The local model server did not become ready within 60 s.")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if proc.stdin:
                proc.stdin.close()
            proc.terminate()
            proc.wait(timeout=5)
        except Exception:
            proc.kill()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_generator(settings: Settings, local: LocalServer | None = None) -> OpenAIGenerator | None:
    """The configured generator, or None for the extractive backend."""
    s = settings
    if s.backend == "extractive":
        return None
    if s.backend == "local":
        assert local is not None
        return OpenAIGenerator("local", local.base_url(), None, s.model or "smollm2", s.request_timeout, s.max_retries)
    if s.backend == "openai":
        key = s.effective_api_key()
        if not key:
            raise GeneratorError("The openai backend needs an API key: set OPENAI_API_KEY or BYLINE_API_KEY.")
        return OpenAIGenerator("openai", s.base_url, key, s.model or "gpt-4o-mini", s.request_timeout, s.max_retries)
    if not s.base_url:
        raise GeneratorError("The openai-compatible backend needs --base-url (e.g. http://127.0.0.1:11434/v1).")
    return OpenAIGenerator("openai-compatible", s.base_url, s.effective_api_key(), s.model or "default", s.request_timeout, s.max_retries)
