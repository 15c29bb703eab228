"""Byline: answers about a collection of news articles, each backed by a citation."""

from byline.config import Settings, load_settings
from byline.engine import Engine, QuestionError

__all__ = ["Engine", "QuestionError", "Settings", "load_settings"]
