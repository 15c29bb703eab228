"""Follow-up questions: rewrite "Who met there?" into a question that stands on its own.

A generator, when there is one, proposes a rewrite; it is kept only if it still carries the
follow-up's own words and something from the conversation. Otherwise (or with no generator) the
follow-up is joined to the previous standalone question, which is what retrieval needs.
"""

from __future__ import annotations

import re

from byline.types import Turn

_REFERRING = re.compile(
    r"\b(he|she|it|they|them|him|her|his|hers|its|their|theirs|there|then|that|this|those|these|the same|such|also|else|other|another)\b",
    re.IGNORECASE,
)
_STOP = {
    "the", "a", "an", "of", "in", "on", "at", "to", "for", "and", "or", "was", "were", "is", "are", "did", "do", "does",
    "what", "when", "who", "where", "which", "why", "how", "with", "by", "from", "about", "that", "this", "there", "it",
}  # fmt: skip


def needs_context(question: str) -> bool:
    """A follow-up refers back ("who met there?", "what did he say") or says too little on its own
    ("and the date?"). A short question with its own subject stands alone: "whos the kremlin
    spokesman" asked after another question is about the Kremlin spokesman, not that question."""
    return bool(_REFERRING.search(question)) or len(_content(question)) < 2


def _content(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[A-Za-z0-9]+", text) if w.lower() not in _STOP and len(w) > 2}


def joined(question: str, history: list[Turn]) -> str:
    prev = history[-1].standalone_question or history[-1].question
    return f"{question.strip()} (about: {prev.strip()})"


def rewrite(question: str, history: list[Turn], generator=None, prompt: str = "") -> str:
    if not history or not needs_context(question):
        return question
    if generator is not None and prompt:
        convo = "\n".join(f"Q: {t.standalone_question or t.question}\nA: {t.answer[:300]}" for t in history[-2:])
        try:
            proposal = generator.complete(
                [{"role": "user", "content": prompt.format(history=convo, question=question)}], max_tokens=40
            )
        except Exception:
            proposal = ""
        proposal = proposal.strip().strip('"').splitlines()[0].strip() if proposal.strip() else ""
        own, context = _content(question) - _content(proposal), _content(" ".join(t.standalone_question or t.question for t in history[-2:]))
        if proposal.endswith("?") and 3 <= len(proposal.split()) <= 30 and not own and (_content(proposal) & context) and not _REFERRING.search(proposal):
            return proposal
    return joined(question, history)
