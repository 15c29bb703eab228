"""Strip web-scrape boilerplate from article text while keeping every article sentence.

Two kinds of debris: whole lines that are page furniture (comment forms, ad-blocker pleas,
breadcrumbs, weather widgets) and fragments glued into a paragraph by the scraper (a "Subscribe to
RBC Twitter ..." prompt or an `<img>` tag's `jpg" alt="..." />` tail in the middle of a sentence
run). Lines are dropped only when they match a pattern whole; fragments are cut out precisely, so
the sentences around them stay intact.
"""

from __future__ import annotations

import re

# Whole lines (matched against the stripped line, case-insensitive).
_LINE_PATTERNS = [
    r"leave a (reply|comment)",
    r"be the first to comment",
    r"your email address will not be published\.?( required fields are marked \*?)?",
    r"required fields are marked \*?",
    r"source link",
    r"(источник|источник|istochnik|source)\s*:?\s*[\w.-]+\.\w{2,}",  # "Источник rbc.ru"
    r"error: content is protected !*",
    r"latest articles|explore more|related( articles| stories)?|read more|advertisement|skip to (main )?content",
    r"high-quality journalistic work cannot be free.*",
    r"our site is solely funded by advertising money\.?",
    r"please (disable|turn off) your ad ?blocker.*",
    r"best regards,? (the )?editors\.?",
    r"[-+]?\d{1,2}(\.\d)?\s*°?\s*[CF]",  # weather widget: "24.5 C"
    r"home\s*(›|»|>|/)?\s*uncategorized.*",  # breadcrumb: "HomeUncategorizedThe Kremlin ..."
    r"subscribe to .{0,40}get news faster than anyone( else)?\.?",
    r"share (this|on) (article|facebook|twitter).*",
    r"(click|sign up) here to .{0,80}",
    r"get cnn health's weekly newsletter.*",
    r"\(you can get .{0,80} delivered to your inbox daily\. sign up here ?\.\)",
    r"this video (is|was) (no longer|not) available.*",
    r"now playing.*|video ad feedback",
]
_LINE_RE = re.compile(r"^(?:" + "|".join(_LINE_PATTERNS) + r")$", re.IGNORECASE)

# Fragments inside a paragraph.
_INLINE_PATTERNS = [
    # "Subscribe to RBC Twitter Get news faster than anyone else Истoчник" (mixed-script "Источник")
    r"Subscribe to [\w ]{1,40}? Get news faster than anyone(?: else)?\.?(?:\s+[ИI]ст[оo]чник\b)?",
    # tail of an <img> tag: `jpg" alt="Biden calls summit" />`, with straight or curly quotes
    r"\S*\.?(?:jpe?g|png|gif|webp)[\"”″]\s*alt=[\"”″][^\"”″]*[\"”″]\s*/?>",
    r"<[^<>]{1,200}/?>",  # stray tags
]
_INLINE_RE = re.compile("|".join(_INLINE_PATTERNS))
_SPACES = re.compile(r"[ \t]+")
# Control characters other than tab and newline: a NUL inside a Chroma document can break the
# store's full-text index for the whole collection (chroma-core/chroma#7388), and none is text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(text: str) -> str:
    """Text with boilerplate lines and fragments removed; paragraphs kept, whitespace tidied."""
    text = _CONTROL.sub(" ", text.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " "))
    # The fragment patterns scan every position (the image-tag tail starts with \S*): 9 s over
    # RealTimeQA's 34 M characters. Each needs a marker, so text without one is not scanned.
    if "alt=" in text or "<" in text or "Subscribe to" in text:
        text = _INLINE_RE.sub(" ", text)
    kept: list[str] = []
    for raw in text.split("\n"):
        line = _SPACES.sub(" ", raw).strip()
        if line and (_LINE_RE.match(line) or _is_foreign_teaser(line)):
            continue
        kept.append(line)
    out = "\n".join(kept)
    out = re.sub(r"\n{3,}", "\n\n", out)
    return out.strip()


def _is_foreign_teaser(line: str) -> bool:
    """A short standalone line in another language inside an English article: a related-link teaser."""
    if re.search(r"[\d,:;/]", line) or line.endswith((".", "?", "!", ":", "”", '"')):
        return False
    # One-letter words ("a", "y") are stopwords in several languages; they decide nothing.
    words = [w for w in re.findall(r"[a-záéíóúñüçàèìòùâêîôûäöß]+", line.lower()) if len(w) > 1]
    if not 5 <= len(words) <= 30:
        return False
    from byline.nltk_data import stopwords

    english = sum(w in stopwords("english") for w in words)
    foreign = max(sum(w in stopwords(lang) for w in words) for lang in ("spanish", "french", "portuguese", "italian", "german"))
    return foreign >= 3 and english == 0

