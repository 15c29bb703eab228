"""Byline as an OpenAI-compatible model: `/v1/models` and `/v1/chat/completions`, served on the
chat's own host and port (added to Gradio's FastAPI app), a thin shell over the one `Engine`.

- The conversation comes in `messages`; the last one is the question, earlier user/assistant
  pairs are its history, so follow-ups are resolved as in the chat. `model` is `byline` (the
  server's settings) or `byline-<profile>` (a built-in or byline.toml profile's backend).
- The answer keeps its `[n]` markers; the sources come as top-level `citations` (each source's URL,
  or `byline:ARTICLE_ID`) and `search_results`, Perplexity's convention, and Byline's own fields
  (tier, short answer, checked sentences) under `byline`. A streamed response carries them in its
  last chunk. The stream sends the *checked* answer: a capable model's raw tokens are not passed
  on, since a sentence may be re-cited or the whole answer replaced by a quote after checking, and
  an API client cannot take back text it was sent.
- Errors are OpenAI-style JSON (`{"error": {"message", "type", "code"}}`) with their status; no
  traceback reaches a client.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import logging
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any, Iterator

from fastapi import Request  # at module level: FastAPI resolves the handlers' annotations here
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from byline.dates import as_of_for
from byline.types import Answer, Turn

if TYPE_CHECKING:  # pragma: no cover
    from fastapi import FastAPI

    from byline.engine import Engine

log = logging.getLogger(__name__)
MODEL_PREFIX = "byline"
HISTORY_TURNS = 4  # earlier exchanges passed on (the engine reads the last two), as in the chat
STREAM_CHUNK_WORDS = 8


class ApiError(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error", code: str | None = None, param: str | None = None):
        super().__init__(message)
        self.status, self.message, self.kind, self.code, self.param = status, message, kind, code, param

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):  # [{"type": "text", "text": "…"}, …]
            return " ".join(str(p.get("text", "")) for p in self.content if isinstance(p, dict) and p.get("type") == "text")
        return self.content or ""


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, max_tokens, … are accepted and ignored
    model: str = MODEL_PREFIX
    messages: list[Message] = Field(min_length=1)
    stream: bool = False
    sources_in_text: bool = False  # append a plain "Sources:" list for clients that show only text


def model_ids(profiles: dict[str, dict]) -> list[str]:
    return [MODEL_PREFIX] + [f"{MODEL_PREFIX}-{name}" for name in sorted(profiles)]


def overrides_for(model: str, profiles: dict[str, dict]) -> dict[str, Any]:
    """Settings for `model`: none for `byline`, the profile's generation settings for `byline-NAME`."""
    if model == MODEL_PREFIX:
        return {}
    name = model.removeprefix(f"{MODEL_PREFIX}-")
    if model.startswith(f"{MODEL_PREFIX}-") and name in profiles:
        keys = ("backend", "base_url", "model", "api_key", "top_k", "model_kind")
        return {k: v for k, v in profiles[name].items() if k in keys}
    raise ApiError(404, f"The model {model!r} does not exist; GET /v1/models lists them ({', '.join(model_ids(profiles))}).", code="model_not_found", param="model")


def conversation(messages: list[Message]) -> tuple[str, list[Turn]]:
    """The question (the last user message) and the turns before it, oldest first."""
    if messages[-1].role != "user":
        raise ApiError(400, "The last message must have the role 'user': it is the question.", param="messages")
    question = messages[-1].text().strip()
    turns: list[Turn] = []
    pending: str | None = None
    for m in messages[:-1]:
        if m.role == "user":
            pending = m.text()
        elif m.role == "assistant" and pending is not None:
            turns.append(Turn(pending, m.text()))
            pending = None
    return question, turns[-HISTORY_TURNS:]


def sources(answer: Answer) -> tuple[list[str], list[dict]]:
    citations = [c.url or f"byline:{c.article_id}" for c in answer.citations]
    results = [
        {
            "title": c.title,
            "url": c.url or None,
            "date": c.published or None,
            "article_id": c.article_id,
            "passage": c.passage,
            "sentence": c.passage[c.highlight_start : c.highlight_end] if c.highlight_end > c.highlight_start else None,
            "tier": answer.tier,
        }
        for c in answer.citations
    ]
    return citations, results


def answer_text(answer: Answer, sources_in_text: bool) -> str:
    text = answer.answer
    if sources_in_text and answer.citations:
        lines = [f"[{c.n}] {c.title}" + (f" — {c.url}" if c.url else "") + (f" ({c.published})" if c.published else "") for c in answer.citations]
        text += "\n\nSources:\n" + "\n".join(lines)
    return text


def byline_fields(answer: Answer) -> dict:
    return {
        "tier": answer.tier,
        "short_answer": answer.short_answer,
        "refused": answer.refused,
        "mode": answer.mode,
        "notice": answer.notice or None,
        "standalone_question": answer.standalone_question if answer.standalone_question != answer.question else None,
        "sentences": [x.to_json() for x in answer.sentences],
    }


class OpenAIApi:
    """The request handling, apart from FastAPI so its rules read in one place."""

    def __init__(self, engine: "Engine"):
        from byline.config import BUILTIN_PROFILES, configured_profiles

        self.engine = engine
        self.profiles = {**BUILTIN_PROFILES, **configured_profiles()}
        s = engine.settings
        self.key = s.serve_api_key.get_secret_value() if s.serve_api_key else None
        self.slots = threading.BoundedSemaphore(max(1, s.api_concurrency))

    def check_key(self, authorization: str | None) -> None:
        if self.key is None:
            return
        scheme, _, given = (authorization or "").partition(" ")
        given = given.strip() if scheme == "Bearer" else ""
        if not hmac.compare_digest(given.encode(), self.key.encode()):
            raise ApiError(401, "Missing or wrong API key: send the header 'Authorization: Bearer <key>'.", kind="authentication_error", code="invalid_api_key")

    def parse(self, raw: bytes) -> ChatRequest:
        limit = self.engine.settings.api_max_request_kb * 1024
        if len(raw) > limit:
            raise ApiError(413, f"The request is {len(raw) // 1024:,} KB; the limit is {limit // 1024:,} KB.", code="request_too_large")
        try:
            data = json.loads(raw or b"null")
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "The request body is not valid JSON.") from None
        if not isinstance(data, dict):
            raise ApiError(400, "The request body must be a JSON object with 'model' and 'messages'.")
        try:
            return ChatRequest.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "body"
            raise ApiError(400, f"Invalid request: {where}: {first.get('msg', 'invalid value')}.", param=where) from None

    def answer(self, req: ChatRequest) -> tuple[Answer, float]:
        """Ask the engine; one of `api_concurrency` slots, waited for up to `api_queue_seconds`."""
        from byline.engine import QuestionError
        from byline.llm import GeneratorError

        overrides = overrides_for(req.model, self.profiles)
        question, history = conversation(req.messages)
        limit = self.engine.settings.max_question_chars
        if len(question) > limit:
            raise ApiError(413, f"That question is {len(question):,} characters long; please keep it under {limit:,}.", code="question_too_long", param="messages")
        if not self.slots.acquire(timeout=self.engine.settings.api_queue_seconds):
            raise ApiError(429, "Byline is busy answering other requests; please retry in a few seconds.", kind="rate_limit_error", code="busy")
        t0 = time.time()
        try:
            return self.engine.ask(question, history or None, as_of_for(question), **overrides), t0
        except QuestionError as exc:
            raise ApiError(400, str(exc), param="messages") from None
        except GeneratorError as exc:
            raise ApiError(503, str(exc), kind="server_error", code="backend_unavailable") from None
        except Exception as exc:
            log.exception("answering %r over the API failed", question[:200])
            raise ApiError(500, f"Byline could not answer: {type(exc).__name__}.", kind="server_error") from None
        finally:
            self.slots.release()

    def completion(self, req: ChatRequest, answer: Answer, created: float) -> dict:
        citations, results = sources(answer)
        return {
            "id": f"chatcmpl-byline-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(created),
            "model": req.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer_text(answer, req.sources_in_text)}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            "citations": citations,
            "search_results": results,
            "byline": byline_fields(answer),
        }

    def chunks(self, req: ChatRequest, answer: Answer, created: float) -> Iterator[str]:
        """Server-sent events: the checked answer in pieces of a few words, then the sources."""
        cid = f"chatcmpl-byline-{uuid.uuid4().hex[:24]}"

        def event(delta: dict, finish: str | None = None, **extra) -> str:
            body = {"id": cid, "object": "chat.completion.chunk", "created": int(created), "model": req.model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}  # fmt: skip
            return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

        yield event({"role": "assistant", "content": ""})
        words = answer_text(answer, req.sources_in_text).split(" ")
        for i in range(0, len(words), STREAM_CHUNK_WORDS):
            yield event({"content": (" " if i else "") + " ".join(words[i : i + STREAM_CHUNK_WORDS])})
        citations, results = sources(answer)
        yield event({}, "stop", citations=citations, search_results=results, byline=byline_fields(answer))
        yield "data: [DONE]\n\n"

    def models(self) -> dict:
        created = int(dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc).timestamp())
        return {"object": "list", "data": [{"id": m, "object": "model", "created": created, "owned_by": "byline"} for m in model_ids(self.profiles)]}


def add_routes(app: "FastAPI", engine: "Engine") -> OpenAIApi:
    """Add `/v1/models` and `/v1/chat/completions` to a FastAPI app (Gradio's, once launched)."""
    from fastapi.responses import JSONResponse, StreamingResponse
    from starlette.concurrency import run_in_threadpool

    api = OpenAIApi(engine)

    def error(exc: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(exc.body(), status_code=exc.status, headers=headers)

    async def list_models(request: Request):
        try:
            api.check_key(request.headers.get("authorization"))
        except ApiError as exc:
            return error(exc)
        return JSONResponse(api.models())

    async def chat_completions(request: Request):
        try:
            api.check_key(request.headers.get("authorization"))
            declared = request.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > engine.settings.api_max_request_kb * 1024:
                raise ApiError(413, f"The request is {int(declared) // 1024:,} KB; the limit is {engine.settings.api_max_request_kb:,} KB.", code="request_too_large")
            req = api.parse(await request.body())
            answer, created = await run_in_threadpool(api.answer, req)
        except ApiError as exc:
            return error(exc)
        except Exception:  # never a traceback to a client
            log.exception("the API request failed")
            return error(ApiError(500, "Byline could not handle this request.", kind="server_error"))
        if req.stream:
            return StreamingResponse(api.chunks(req, answer, created), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
        return JSONResponse(api.completion(req, answer, created))

    app.add_api_route("/v1/models", list_models, methods=["GET"], include_in_schema=False)
    app.add_api_route("/v1/chat/completions", chat_completions, methods=["POST"], include_in_schema=False)
    return api
