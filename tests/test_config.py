"""Settings: flags > BYLINE_* environment > profile in byline.toml > byline.toml > defaults; keys masked."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from byline.config import ConfigError, load_settings
from conftest import ROOT


@pytest.fixture
def toml(tmp_path, monkeypatch):
    path = tmp_path / "byline.toml"
    monkeypatch.setenv("BYLINE_CONFIG", str(path))
    monkeypatch.delenv("BYLINE_PROFILE", raising=False)
    return path


def test_precedence_flags_over_env_over_profile_over_file(toml, monkeypatch):
    toml.write_text('top_k = 4\nbackend = "extractive"\nmodel = "file-model"\n[profiles.mine]\nbackend = "openai-compatible"\nbase_url = "http://127.0.0.1:9/v1"\nmodel = "profile-model"\n')
    assert load_settings().backend == "extractive" and load_settings().top_k == 4

    monkeypatch.setenv("BYLINE_PROFILE", "mine")
    s = load_settings()
    assert (s.backend, s.model, s.base_url, s.top_k) == ("openai-compatible", "profile-model", "http://127.0.0.1:9/v1", 4)

    monkeypatch.setenv("BYLINE_MODEL", "env-model")
    assert load_settings().model == "env-model"
    assert load_settings({"model": "flag-model"}).model == "flag-model"
    assert load_settings({"model": None}).model == "env-model", "an unset flag does not override"


def test_builtin_profiles_and_unknown_profile(toml):
    s = load_settings(profile="ollama")
    assert s.backend == "openai-compatible" and s.base_url == "http://127.0.0.1:11434/v1"
    with pytest.raises(ConfigError, match="Unknown profile 'nope'"):
        load_settings(profile="nope")


def test_bad_values_are_reported(toml, monkeypatch):
    monkeypatch.setenv("BYLINE_BACKEND", "telepathy")
    with pytest.raises(ConfigError, match="backend"):
        load_settings()
    monkeypatch.delenv("BYLINE_BACKEND")
    toml.write_text("top_k = [unclosed")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings()


def test_config_command_masks_the_key(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "BYLINE_CONFIG": str(tmp_path / "none.toml"), "BYLINE_API_KEY": "sk-test-abcdefghijklmnop1234", "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "app.py", "config", "--backend", "openai"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown["backend"] == "openai" and shown["api_key"] == "****1234"
    assert "abcdefghijklmnop" not in done.stdout + done.stderr
