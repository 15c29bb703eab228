"""Question sets: JSONL, one question a line, checked line by line with errors that name the line.

Format (see evals/README.md): `id, question, answers, sources, unanswerable`, optional
`question_date` (YYYY-MM-DD), `choices`, `follow_up_of`. Extra keys (a benchmark's own fields)
are kept in `extra` and otherwise ignored.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path


class DatasetError(ValueError):
    """The question set cannot be used; the message lists every bad line."""


@dataclass
class Question:
    id: str
    question: str
    answers: list[str]
    sources: list[str]
    unanswerable: bool = False
    question_date: str | None = None
    choices: list[str] = field(default_factory=list)
    follow_up_of: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def answerable(self) -> bool:
        return not self.unanswerable


_KNOWN = {"id", "question", "answers", "sources", "unanswerable", "question_date", "choices", "follow_up_of"}


def load_questions(path: Path, limit: int | None = None) -> list[Question]:
    """All questions of a set (the first `limit` when given); DatasetError naming each bad line."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such question set")
    questions: list[Question] = []
    errors: list[str] = []
    seen: dict[str, int] = {}
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            q = parse_question(json.loads(line))
        except json.JSONDecodeError as exc:
            errors.append(f"{path}:{lineno}: not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        except ValueError as exc:
            errors.append(f"{path}:{lineno}: {exc}")
            continue
        if q.id in seen:
            errors.append(f"{path}:{lineno}: duplicate id {q.id!r} (first on line {seen[q.id]})")
            continue
        if q.follow_up_of is not None and q.follow_up_of not in seen:
            errors.append(f"{path}:{lineno}: follow_up_of {q.follow_up_of!r} is not the id of an earlier question")
            continue
        seen[q.id] = lineno
        questions.append(q)
    if errors:
        shown = errors[:20] + ([f"… and {len(errors) - 20} more"] if len(errors) > 20 else [])
        raise DatasetError(f"{path} has {len(errors)} bad line(s):\n" + "\n".join(shown))
    if not questions:
        raise DatasetError(f"{path} holds no questions")
    return questions[:limit] if limit else questions


def parse_question(record) -> Question:
    """One question from a decoded JSON line; ValueError says what is wrong with it."""
    if not isinstance(record, dict):
        raise ValueError("expected a JSON object")
    qid = record.get("id")
    if not isinstance(qid, str) or not qid.strip():
        raise ValueError('"id" must be a non-empty string')
    text = record.get("question")
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f'{qid}: "question" must be a non-empty string')
    answers = _str_list(record, "answers", qid)
    sources = _str_list(record, "sources", qid)
    unanswerable = record.get("unanswerable", False)
    if not isinstance(unanswerable, bool):
        raise ValueError(f'{qid}: "unanswerable" must be true or false')
    if unanswerable and (answers or sources):
        raise ValueError(f'{qid}: an unanswerable question must have empty "answers" and "sources"')
    if not unanswerable and not answers:
        raise ValueError(f'{qid}: an answerable question needs at least one "answers" string')
    date = record.get("question_date")
    if date is not None:
        try:
            dt.date.fromisoformat(date if isinstance(date, str) else "")
        except ValueError:
            raise ValueError(f'{qid}: "question_date" must be YYYY-MM-DD, not {date!r}') from None
    choices = _str_list(record, "choices", qid, required=False)
    follow = record.get("follow_up_of")
    if follow is not None and (not isinstance(follow, str) or not follow):
        raise ValueError(f'{qid}: "follow_up_of" must be the id of an earlier question')
    if follow == qid:
        raise ValueError(f"{qid}: a question cannot follow itself")
    return Question(
        id=qid,
        question=text.strip(),
        answers=[a for a in answers if a.strip()],
        sources=sources,
        unanswerable=unanswerable,
        question_date=date,
        choices=choices,
        follow_up_of=follow,
        extra={k: v for k, v in record.items() if k not in _KNOWN},
    )


def _str_list(record: dict, key: str, qid: str, required: bool = True) -> list[str]:
    value = record.get(key)
    if value is None:
        if required:
            raise ValueError(f'{qid}: "{key}" is missing (use [] for none)')
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f'{qid}: "{key}" must be a list of strings')
    return list(value)


def conversation(questions: dict[str, Question], q: Question) -> list[Question]:
    """The earlier questions of q's conversation, oldest first (empty when q starts one)."""
    chain: list[Question] = []
    current = q
    while current.follow_up_of and current.follow_up_of in questions and len(chain) < 20:
        current = questions[current.follow_up_of]
        chain.append(current)
    return chain[::-1]
