"""Dates: publication days as numbers, and whether a question is about "now"."""

from __future__ import annotations

import datetime as dt
import re


def published_day(published: str) -> int | None:
    """A YYYY-MM-DD date as an ordinal day (what Chroma's numeric filters compare), None when unknown."""
    try:
        return dt.date.fromisoformat(published[:10]).toordinal()
    except (TypeError, ValueError):
        return None


def published_day_field(published: str) -> dict:
    """`{"published_day": n}` for Chroma metadata (its numeric filters), or nothing when undated."""
    day = published_day(published)
    return {} if day is None else {"published_day": day}


_RECENT = re.compile(
    r"\b(this (week|weekend|month|year|season|summer|autumn|fall|winter|spring)|last (week|weekend|month)|"
    r"recent(ly)?|today|tonight|yesterday|latest|newly|just|now|currently|upcoming|so far)\b",
    re.IGNORECASE,
)


def mentions_recent_time(question: str) -> bool:
    """Whether a question is about "now" ("this week", "recently", ...), so the date it is asked matters."""
    return bool(_RECENT.search(question))


def as_of_for(question: str) -> str | None:
    """Today's date, when the question asks about "now"; otherwise None (the whole archive):
    "When was the Geneva summit?" must still find a 2021 article."""
    return dt.date.today().isoformat() if mentions_recent_time(question) else None
