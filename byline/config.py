"""One typed settings object for every entry point.

Precedence, highest first: CLI flags > BYLINE_* environment variables > the selected profile in
byline.toml > top-level keys of byline.toml > defaults. `OPENAI_API_KEY` is honoured for the
`openai` backend and embedder when no `api_key` is set elsewhere.
"""

from __future__ import annotations

import contextvars
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

Backend = Literal["local", "extractive", "openai", "openai-compatible"]
Embedder = Literal["bge-small", "minilm", "openai"]

DEFAULT_CONFIG_FILE = Path("byline.toml")
_PROFILE_FLAG: contextvars.ContextVar[str | None] = contextvars.ContextVar("byline_profile", default=None)

# Built-in profiles: a name is a bundle of settings, overridable by byline.toml's [profiles.NAME].
BUILTIN_PROFILES: dict[str, dict[str, Any]] = {
    "local": {"backend": "local"},
    "extractive": {"backend": "extractive"},
    "openai": {"backend": "openai", "model": "gpt-4o-mini"},
    "ollama": {"backend": "openai-compatible", "base_url": "http://127.0.0.1:11434/v1", "model": "llama3.2"},
    "vllm": {"backend": "openai-compatible", "base_url": "http://127.0.0.1:8000/v1"},
    "llamacpp": {"backend": "openai-compatible", "base_url": "http://127.0.0.1:8080/v1"},
    "lmstudio": {"backend": "openai-compatible", "base_url": "http://127.0.0.1:1234/v1"},
}


def _user_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "byline"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BYLINE_", extra="ignore", validate_default=True)

    # Where things live
    corpus_dir: Path = Path("corpus")
    index_dir: Path = Path("index")
    chroma_url: str | None = Field(None, description="Chroma server URL; the embedded store under index_dir when unset")
    collection: str = "byline"

    # Generation backend
    # Extractive by default: on the held-out sets the packaged 135M model's own words were kept
    # for few answers, scored no better than the quoted sentence, and took twice as long
    # (docs/EVALUATION.md, session 8); `--backend local` is one flag away.
    backend: Backend = "extractive"
    base_url: str | None = None
    model: str | None = None
    api_key: SecretStr | None = None
    model_path: Path | None = Field(None, description="GGUF for the local backend; the packaged SmolLM2 when unset")
    request_timeout: float = 20.0
    max_retries: int = 2
    max_answer_tokens: int = 64

    # Local llama.cpp server
    llm_threads: int = 2
    llm_ctx: int = 4096
    llm_parallel: int = 4
    # llama.cpp's prompt cache defaults to 8 GiB and grows with every question.
    llm_cache_ram_mib: int = 64
    llm_widen_q8: bool = Field(True, description="serve a Q8_0 copy of a 4-bit local model: its prompts evaluate about 1.5× as fast")
    model_cache_dir: Path = Field(default_factory=lambda: _user_cache_dir() / "models", description="where that Q8_0 copy is kept")

    # Embeddings
    embedder: Embedder = "bge-small"
    openai_embedding_model: str = "text-embedding-3-small"
    embed_threads: int = 2
    embed_batch_size: int = 32
    ingest_batch_passages: int = Field(512, description="passages embedded and committed together during ingest")

    # Chunking
    chunk_tokens: int = 128
    chunk_overlap_sentences: int = 1
    vector_passages: int = Field(
        1,
        description="leading passages of each article that get a vector (0 = all); BM25 covers every passage. "
        "Measured on RealTimeQA: the lead carries what the vector index adds, at a fraction of the embedding time",
    )

    # Retrieval and answering
    vector_k: int = 30
    bm25_k: int = 30
    rerank_k: int = Field(12, description="candidate passages kept after fusion (ranked by article)")
    top_k: int = Field(3, description="sources shown with an answer")
    answer_threshold: float = Field(5.3, description="best evidence unit (sentence or pair) logit from which the answer is confident; below it the closest passages are shown")
    model_kind: Literal["auto", "small", "capable"] = Field(
        "auto",
        description="how the generator is used: 'small' answers from one sentence and is checked word for word; 'capable' gets the numbered passages and answers in its own words; 'auto': capable for openai / openai-compatible and for a local GGUF of 1 GB or more",
    )
    model_passages: int = Field(5, description="numbered passages a capable model is given; 8 kept no more faithful replies on evals/replies.jsonl (docs/EVALUATION.md)")
    model_neighbours: int = Field(3, description="a capable model is also given the passages either side of this many of its best passages (0: none)")
    evidence_passages: int = Field(8, description="passages whose sentences are candidate evidence (two from each of the top four articles)")
    recency_days: int = Field(7, description="with a question date, prefer articles published this many days before it")
    max_question_chars: int = 2000

    # Web chat
    host: str = "127.0.0.1"
    port: int = 7860
    max_upload_mb: int = 20
    concurrency: int = 4
    feedback_path: Path = Field(Path("feedback.jsonl"), description="where the page's thumbs up/down are appended (one JSON line each)")

    # The OpenAI-compatible API (/v1) served beside the chat
    serve_api_key: SecretStr | None = Field(
        None,
        description="key every /v1 request must send as 'Authorization: Bearer …' (BYLINE_SERVE_API_KEY); "
        "not BYLINE_API_KEY, which is the generator's key and must not double as a client's",
    )
    api_concurrency: int = Field(4, description="/v1 requests answered at once; more wait for a slot")
    api_queue_seconds: float = Field(60.0, description="how long a /v1 request waits for a slot before a 429")
    api_max_request_kb: int = Field(512, description="largest /v1 request body accepted (413 above it)")

    profile: str | None = None

    @field_validator("api_key", "serve_api_key", mode="before")
    @classmethod
    def _empty_key_is_none(cls, v: Any) -> Any:
        return None if v in ("", None) else v

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings):
        return (init_settings, env_settings, _TomlProfileSource(settings_cls))

    # --- derived -------------------------------------------------------------------------------
    def effective_api_key(self) -> str | None:
        if self.api_key is not None:
            return self.api_key.get_secret_value()
        if self.backend == "openai" or self.embedder == "openai":
            return os.environ.get("OPENAI_API_KEY") or None
        return None

    def masked(self) -> dict[str, Any]:
        """The effective settings for display: keys never appear."""
        data = self.model_dump(mode="json")
        key = self.effective_api_key()
        data["api_key"] = _mask(key)
        data["serve_api_key"] = _mask(self.serve_api_key.get_secret_value()) if self.serve_api_key else None
        return data


def _mask(key: str | None) -> str | None:
    if not key:
        return None
    return "****" + key[-4:] if len(key) > 12 else "****"


class _TomlProfileSource(PydanticBaseSettingsSource):
    """byline.toml top-level keys, then the chosen profile's keys on top."""

    def __init__(self, settings_cls):
        super().__init__(settings_cls)
        self._data = _load_toml_with_profile()

    def get_field_value(self, field, field_name):  # pragma: no cover - required by the ABC
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


def _read_toml() -> dict[str, Any]:
    path = Path(os.environ.get("BYLINE_CONFIG", DEFAULT_CONFIG_FILE))
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc


def configured_profiles() -> dict[str, dict[str, Any]]:
    """The profiles byline.toml defines ([profiles.NAME]), over the built-in ones of the same name."""
    return {**BUILTIN_PROFILES, **_read_toml().get("profiles", {})}


def _load_toml_with_profile() -> dict[str, Any]:
    raw = _read_toml()
    profiles = {**BUILTIN_PROFILES, **raw.pop("profiles", {})}
    name = _PROFILE_FLAG.get() or os.environ.get("BYLINE_PROFILE") or raw.get("profile")
    if name:
        if name not in profiles:
            raise ConfigError(f"Unknown profile {name!r}; known: {', '.join(sorted(profiles))}")
        raw = {**raw, **profiles[name], "profile": name}
    return raw


class ConfigError(ValueError):
    pass


def load_settings(overrides: dict[str, Any] | None = None, profile: str | None = None) -> Settings:
    """Settings from flags (`overrides`, None values ignored), environment and byline.toml."""
    flags = {k: v for k, v in (overrides or {}).items() if v is not None}
    token = _PROFILE_FLAG.set(profile)
    try:
        return Settings(**flags)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    finally:
        _PROFILE_FLAG.reset(token)


CAPABLE_GGUF_BYTES = 1 << 30  # the packaged SmolLM2 is 0.1 GB; a 1B model at 4 bits is about 0.7 GB, a 3B one 2 GB


def is_capable(settings: "Settings") -> bool:
    """Whether the backend's model answers in its own words from several passages."""
    if settings.backend == "extractive" or settings.model_kind == "small":
        return False
    if settings.model_kind == "capable" or settings.backend in ("openai", "openai-compatible"):
        return True
    path = settings.model_path
    try:
        return bool(path) and Path(path).stat().st_size >= CAPABLE_GGUF_BYTES
    except OSError:
        return False
