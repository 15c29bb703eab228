"""A replay model: a real OpenAI-compatible chat-completions server that answers from
hand-written replies, so that Byline's checking of a capable model's answers can be measured.

Each chat-completion request is answered from a replies file (JSONL, see
``evals/replies.jsonl``) as a capable model would answer it: in its own words, one
sentence after another, each followed by the ``[n]`` of the numbered passage it came from::

    with ReplayOpenAIServer("evals/replies.jsonl") as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="x")
        client.chat.completions.create(model=server.model, messages=[...])

Standalone (point Byline's ``openai-compatible`` backend at it, with the same model name)::

    uv run --frozen python -m tests.support.replay_openai --replies evals/replies.jsonl --port 8765

What the server reads in a request (the last ``user`` message):

- the question: the LAST line ``Question: ...``. It is matched to a reply by normalised text
  (NFKC, casefolded, curly quotes made straight, whitespace collapsed, trailing punctuation
  stripped) against the reply's ``question``, its ``aliases`` and its ``standalone``; a
  question Byline joined to the one before (``"... (about: ...)"``) is also tried without
  that suffix.
- the numbered passages: a line starting ``[n]`` begins block n, and every line until the
  next such line (or the ``Question:`` line) belongs to it: the title, any
  ``Published:``/``Source:`` line, the text. Lines that are only a tag (``</passages>``) are
  dropped.

How a reply becomes the answer text:

- each sentence's ``cite`` is an exact phrase of its supporting passage; the sentence gets the
  ``[n]`` of the first passage whose text contains the phrase (case-insensitive,
  whitespace-normalised, curly quotes = straight quotes). The marker goes before the
  sentence's final punctuation: ``The call lasted about 50 minutes [2].``
- ``"cite_wrong": true``: the marker names the first passage that does NOT contain the phrase
  (a planted wrong citation); with no such passage, the number one past the last passage.
- ``"cite": null``: no marker.
- a phrase found in no passage: ``[1]`` (a model citing blindly), recorded in ``server.blind``.
- a question with no reply, a reply ``{"refuse": true}`` or one without sentences:
  ``NOT IN THE ARTICLES``.

A follow-up's rewrite request (Byline's ``prompts/rewrite.txt``: a ``Last question: ...``
line) is answered with the matching reply's ``standalone`` question when it has one, and
otherwise with the last question unchanged (a model that does not rewrite).

Every answer is logged in ``server.answers`` (question, reply id, text, each sentence's
marker and the passages holding its phrase). Streaming, ``/v1/models``, auth and the fault
injection are those of :class:`FakeOpenAIServer`, which this reuses through its ``reply_fn``.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import threading
import unicodedata
from pathlib import Path
from typing import Any

try:
    from .fake_openai import FakeOpenAIServer
except ImportError:  # run as a plain script: python tests/support/replay_openai.py
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from fake_openai import FakeOpenAIServer  # type: ignore[no-redef]

__all__ = [
    "ERROR_KINDS",
    "NOT_FOUND",
    "ReplayOpenAIServer",
    "RepliesError",
    "find_passages",
    "load_replies",
    "normalise_question",
    "normalise_text",
    "parse_prompt",
]

NOT_FOUND = "NOT IN THE ARTICLES"
ERROR_KINDS = frozenset({"wrong_date", "wrong_number", "wrong_person", "invented", "wrong_citation"})
SETS = frozenset({"bundled", "realtimeqa"})
_FALSE_KINDS = ERROR_KINDS - {"wrong_citation"}  # the kinds whose sentence is untrue

_QUOTES = str.maketrans({"‘": "'", "’": "'", "‚": "'", "′": "'", "“": '"', "”": '"', "„": '"', "″": '"'})
_QUESTION_LINE = re.compile(r"^[ \t]*Question:[ \t]*(.*?)[ \t]*$", re.MULTILINE)
_LAST_QUESTION_LINE = re.compile(r"^[ \t]*Last question:[ \t]*(.*?)[ \t]*$", re.MULTILINE)
_BLOCK_START = re.compile(r"^\[(\d+)\]")
_TAG_LINE = re.compile(r"^\s*</?[A-Za-z][\w-]*>\s*$")
_JOINED = re.compile(r"\s*\(about:.*\)\s*$", re.DOTALL)  # byline.chat.joined: "Q (about: previous Q)"
_FINAL_PUNCT = re.compile(r"[.!?…]+[\"'”’)\]]*$")


class RepliesError(ValueError):
    """A replies file that cannot be used; the message names the line."""


# -- text ----------------------------------------------------------------------------


def normalise_text(text: str) -> str:
    """NFKC, casefolded, curly quotes straight, whitespace collapsed: how phrases are compared."""
    return " ".join(unicodedata.normalize("NFKC", text).translate(_QUOTES).casefold().split())


def normalise_question(text: str) -> str:
    """A question as matched: normalised text without trailing punctuation or quotes."""
    return normalise_text(text).rstrip(" .?!,;:…\"'")


def _message_text(message: Any) -> str:
    if not isinstance(message, dict):
        return ""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def _last_user_text(body: dict) -> str:
    messages = body.get("messages")
    if not isinstance(messages, list):
        return ""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return _message_text(message)
    return ""


def parse_prompt(text: str) -> tuple[str | None, dict[int, str]]:
    """The question (last ``Question:`` line) and the numbered passages {n: block text}."""
    matches = list(_QUESTION_LINE.finditer(text))
    question = matches[-1].group(1) if matches else None
    region = text[: matches[-1].start()] if matches else text
    blocks: dict[int, list[str]] = {}
    current: list[str] | None = None
    for line in region.splitlines():
        m = _BLOCK_START.match(line)
        if m:
            n = int(m.group(1))
            current = [line[m.end() :].strip()]
            if n not in blocks:  # a repeated number keeps its first block
                blocks[n] = current
        elif current is not None and not _TAG_LINE.match(line):
            current.append(line)
    return question, {n: "\n".join(lines).strip() for n, lines in blocks.items()}


def find_passages(phrase: str, passages: dict[int, str]) -> list[int]:
    """Numbers of the passages whose text contains ``phrase`` (normalised), in order."""
    needle = normalise_text(phrase)
    if not needle:
        return []
    return [n for n in sorted(passages) if needle in normalise_text(passages[n])]


def _with_marker(sentence: str, n: int | None) -> str:
    text = sentence.strip()
    if n is None:
        return text
    m = _FINAL_PUNCT.search(text)
    if m:
        return f"{text[: m.start()].rstrip()} [{n}]{m.group(0)}"
    return f"{text} [{n}]"


# -- replies file --------------------------------------------------------------------


def _check_reply(record: Any, where: str) -> dict:
    if not isinstance(record, dict):
        raise RepliesError(f"{where}: not a JSON object")
    for key in ("id", "question"):
        if not isinstance(record.get(key), str) or not record[key].strip():
            raise RepliesError(f"{where}: {key!r} must be a non-empty string")
    where = f"{where} ({record['id']})"
    if "set" in record and record["set"] not in SETS:
        raise RepliesError(f"{where}: 'set' must be one of {sorted(SETS)}")
    for key in ("aliases", "answers", "sources"):
        value = record.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise RepliesError(f"{where}: {key!r} must be a list of non-empty strings")
    if "standalone" in record and (not isinstance(record["standalone"], str) or not record["standalone"].strip()):
        raise RepliesError(f"{where}: 'standalone' must be a non-empty string")
    if "refuse" in record and not isinstance(record["refuse"], bool):
        raise RepliesError(f"{where}: 'refuse' must be true or false")
    sentences = record.get("sentences", [])
    if not isinstance(sentences, list):
        raise RepliesError(f"{where}: 'sentences' must be a list")
    if not record.get("refuse") and not sentences:
        raise RepliesError(f"{where}: a reply needs 'sentences' (or \"refuse\": true)")
    for i, s in enumerate(sentences, start=1):
        at = f"{where} sentence {i}"
        if not isinstance(s, dict):
            raise RepliesError(f"{at}: not a JSON object")
        if not isinstance(s.get("text"), str) or not s["text"].strip():
            raise RepliesError(f"{at}: 'text' must be a non-empty string")
        if "cite" not in s or not (s["cite"] is None or (isinstance(s["cite"], str) and s["cite"].strip())):
            raise RepliesError(f"{at}: 'cite' must be a phrase of the passage or null")
        if not isinstance(s.get("cite_wrong", False), bool):
            raise RepliesError(f"{at}: 'cite_wrong' must be true or false")
        if not isinstance(s.get("true", True), bool):
            raise RepliesError(f"{at}: 'true' must be true or false")
        error = s.get("error")
        if error is not None and error not in ERROR_KINDS:
            raise RepliesError(f"{at}: 'error' must be null or one of {sorted(ERROR_KINDS)}")
        true = s.get("true", error not in _FALSE_KINDS)
        if (error in _FALSE_KINDS) == true:
            raise RepliesError(f"{at}: a sentence is false exactly when its error is one of {sorted(_FALSE_KINDS)}")
        if (error == "wrong_citation") != bool(s.get("cite_wrong", False)):
            raise RepliesError(f"{at}: 'error': 'wrong_citation' goes with 'cite_wrong': true, and only with it")
        if s.get("cite_wrong") and s["cite"] is None:
            raise RepliesError(f"{at}: 'cite_wrong' needs a 'cite' phrase")
    return record


def _keys(record: dict) -> list[str]:
    texts = [record["question"], *record.get("aliases", [])]
    if record.get("standalone"):
        texts.append(record["standalone"])
    return list(dict.fromkeys(k for k in (normalise_question(t) for t in texts) if k))


def load_replies(path: str | Path) -> list[dict]:
    """The replies of a JSONL file, checked; blank lines are skipped."""
    path = Path(path)
    records: list[dict] = []
    ids: set[str] = set()
    owner: dict[str, str] = {}
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as exc:
                raise RepliesError(f"{where}: bad JSON: {exc}") from None
            record = _check_reply(raw, where)
            if record["id"] in ids:
                raise RepliesError(f"{where}: duplicate id {record['id']!r}")
            ids.add(record["id"])
            for key in _keys(record):
                if key in owner:
                    raise RepliesError(f"{where}: question or alias {key!r} is also reply {owner[key]!r}'s")
                owner[key] = record["id"]
            records.append(record)
    return records


# -- server --------------------------------------------------------------------------


class ReplayOpenAIServer(FakeOpenAIServer):
    """OpenAI-compatible server on 127.0.0.1 answering from a replies file (see module doc).

    ``server.answers``: one dict per answered (non-rewrite) request;
    ``server.blind``: the sentences whose phrase was in no given passage (cited ``[1]``);
    ``server.unmatched``: questions that had no reply.
    """

    def __init__(
        self,
        replies_path: str | Path,
        model: str = "replay-model",
        api_key: str | None = None,
        port: int = 0,
        verbose: bool = False,
    ) -> None:
        super().__init__(reply=NOT_FOUND, model=model, api_key=api_key, reply_fn=self.respond, port=port)
        self.replies_path = Path(replies_path)
        self.replies = load_replies(self.replies_path)
        self._by_key = {key: r for r in self.replies for key in _keys(r)}
        self.verbose = verbose
        self.answers: list[dict] = []
        self.blind: list[dict] = []
        self.unmatched: list[str] = []
        self._log_lock = threading.Lock()

    def find_reply(self, question: str) -> dict | None:
        """The reply for ``question`` (normalised; a joined follow-up also without its suffix)."""
        for candidate in (question, _JOINED.sub("", question)):
            reply = self._by_key.get(normalise_question(candidate))
            if reply is not None:
                return reply
        return None

    def respond(self, body: dict) -> str:
        """The reply text for one chat-completion request body (the ``reply_fn``)."""
        text = _last_user_text(body)
        rewrite = list(_LAST_QUESTION_LINE.finditer(text))
        if rewrite:
            asked = rewrite[-1].group(1)
            reply = self.find_reply(asked)
            return reply["standalone"] if reply is not None and reply.get("standalone") else asked
        question, passages = parse_prompt(text)
        reply = self.find_reply(question) if question else None
        entry: dict[str, Any] = {
            "question": question,
            "reply_id": reply["id"] if reply else None,
            "passages": sorted(passages),
            "sentences": [],
        }
        if reply is None or reply.get("refuse") or not reply.get("sentences"):
            entry["text"] = NOT_FOUND
            with self._log_lock:
                if reply is None:
                    self.unmatched.append(question or "")
                self.answers.append(entry)
            self._say(entry)
            return NOT_FOUND
        out: list[str] = []
        blind: list[dict] = []
        for s in reply["sentences"]:
            phrase = s.get("cite")
            found = find_passages(phrase, passages) if phrase else []
            if phrase is None:
                n = None
            elif not found:
                n = 1
                blind.append({"reply_id": reply["id"], "question": question, "sentence": s["text"], "cite": phrase})
            elif s.get("cite_wrong"):
                others = [m for m in sorted(passages) if m not in found]
                n = others[0] if others else max(passages) + 1
            else:
                n = found[0]
            out.append(_with_marker(s["text"], n))
            entry["sentences"].append(
                {"text": s["text"], "cite": phrase, "marker": n, "found_in": found, "wrong": bool(s.get("cite_wrong")), "blind": bool(phrase) and not found}
            )
        entry["text"] = " ".join(out)
        with self._log_lock:
            self.answers.append(entry)
            self.blind.extend(blind)
        self._say(entry)
        return entry["text"]

    def _say(self, entry: dict) -> None:
        if self.verbose:
            blind = sum(1 for s in entry["sentences"] if s["blind"])
            print(f"[replay] {entry['reply_id'] or '-'}: {entry['text']}" + (f"  ({blind} cited blindly)" if blind else ""), file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Replay model: an OpenAI-compatible server answering from hand-written replies.")
    parser.add_argument("--replies", default="evals/replies.jsonl", help="replies file (JSONL)")
    parser.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--model", default="replay-model", help="the model name it serves (requests must use it)")
    parser.add_argument("--api-key", default=None, help="require this bearer key (default: any)")
    parser.add_argument("--quiet", action="store_true", help="do not print each answer on stderr")
    args = parser.parse_args(argv)
    try:
        server = ReplayOpenAIServer(args.replies, model=args.model, api_key=args.api_key, port=args.port, verbose=not args.quiet)
    except (OSError, RepliesError) as exc:
        print(f"replay_openai: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with server:
        print(f"Replay model {server.model!r} with {len(server.replies)} replies at {server.base_url}", flush=True)
        while not stop.wait(0.5):
            pass
    print(f"Stopped: {len(server.answers)} answers, {len(server.unmatched)} unmatched questions, {len(server.blind)} blind citations.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
