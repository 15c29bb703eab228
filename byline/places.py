"""Place names in a sentence: cities of 15,000 people or more, countries and nationalities, and
the country a nationality stands for ("Ukrainian" → "Ukraine").

The names are GeoNames data (CC BY 4.0) as shipped in the geotext package (5 MB, no model, no
network). geotext's own matcher is not used: it lower-cases every capitalised word, so "Of", "Reading"
or "Nice" at the start of a sentence would count, and it misses accented names ("İstanbul").
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Written as news writes them; GeoNames spells out only "United States", "United Kingdom".
_COUNTRY_ALIASES = {
    "us": "United States", "u.s": "United States", "usa": "United States", "u.s.a": "United States",
    "america": "United States", "uk": "United Kingdom", "u.k": "United Kingdom", "britain": "United Kingdom",
    "uae": "United Arab Emirates", "drc": "Democratic Republic of the Congo",
}  # fmt: skip
# Forms GeoNames does not list: "Kyiv" (GeoNames: "Kiev"), the nationalities it files under another code.
_OTHER_SPELLINGS = {"kyiv": "Ukraine", "american": "United States", "british": "United Kingdom"}
# Capitalised words that GeoNames lists as cities but news text uses as ordinary words or names.
_NOT_PLACES = {
    "of", "reading", "mobile", "nice", "university", "college", "union", "victoria", "independence",
    "president", "police", "liberty", "justice", "federal", "central", "national", "marshall", "jackson",
    "lincoln", "franklin", "madison", "hamilton", "clinton",
}  # fmt: skip
CALENDAR_WORDS = "january|february|march|april|may|june|july|august|september|october|november|december|monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_NAME = rf"(?!(?i:{CALENDAR_WORDS})\b)[A-ZÀ-Þİ][\w’'.-]*"
# A locative word just before a run, or before the list the run is in ("in Geneva, Brussels and Vienna").
_LOCATIVE = re.compile(rf"\b(?i:in|at|near|outside|inside|across|to|from)\s+(?:the\s+)?(?:{_NAME}(?:\s+{_NAME})*\s*(?:,|and|or)\s+)*$")
_CAPITALISED_RUN = re.compile(r"[A-ZÀ-Þİ][\w’'.-]*(?:\s+(?:[A-ZÀ-Þİ][\w’'.-]*|de|del|da|do|la|el|al|upon|on|sur))*")


def _fold(name: str) -> str:
    """Lower case without accents or trailing dots: "İstanbul" → "istanbul", "U.S." → "u.s"."""
    if not name.isascii():
        name = "".join(ch for ch in unicodedata.normalize("NFKD", name) if not unicodedata.combining(ch))
    return name.lower().strip(".’'")


@lru_cache(maxsize=1)
def _names() -> tuple[frozenset[str], frozenset[str]]:
    """(cities, countries and nationalities), folded. Built on first use: about 0.15 s."""
    from geotext.geotext import GeoText  # builds its index when imported

    countries = {_fold(n) for n in GeoText.index.countries} | {_fold(n) for n in GeoText.index.nationalities} | set(_COUNTRY_ALIASES)
    cities = {_fold(n) for n in GeoText.index.cities} - countries
    not_places = _NOT_PLACES | set(CALENDAR_WORDS.split("|"))
    return frozenset(cities - not_places), frozenset(countries - not_places)


def place_names(text: str, located: bool = False) -> tuple[set[str], set[str]]:
    """The cities and the countries (or nationalities) `text` names, folded. `located`: only names
    in a run that follows "in", "at", "near" … ("talks in Geneva, Brussels"), the place where
    something happens, not a capital standing for its government ("Moscow and Washington agreed")."""
    cities, countries = _names()
    found_cities: set[str] = set()
    found_countries: set[str] = set()
    for run in _CAPITALISED_RUN.finditer(text):
        if located and not _LOCATIVE.search(text, 0, run.start()):
            continue
        words = run.group().split()
        i = 0
        while i < len(words):
            # Longest name first: "New York City", "Sri Lanka", "North Korea".
            for n in range(min(4, len(words) - i), 0, -1):
                name = _fold(" ".join(words[i : i + n]).rstrip(",;:"))
                name = re.sub(r"(?:’s|'s)$", "", name)
                if name in countries:
                    found_countries.add(name)
                elif name in cities:
                    found_cities.add(name)
                else:
                    continue
                i += n
                break
            else:
                i += 1
    return found_cities, found_countries


@lru_cache(maxsize=1)
def _countries() -> tuple[dict[str, tuple[str, str]], dict[str, str]]:
    """GeoNames' countries: (ISO code → (name, capital), folded nationality → country name)."""
    from importlib import resources

    from geotext.geotext import GeoText

    by_code: dict[str, tuple[str, str]] = {}
    for line in resources.files("geotext").joinpath("data/countryInfo.txt").read_text(encoding="utf-8").splitlines():
        cols = line.split("\t")
        if not line.startswith("#") and len(cols) > 5 and cols[4]:
            by_code[cols[0]] = (cols[4], cols[5])
    nationalities = {}
    for nationality, code in GeoText.index.nationalities.items():
        # geotext's nationality codes mix ISO and FIPS ("swiss" → SZ, Eswatini's ISO code): a
        # nationality maps only when it starts like the country's name ("ukrainian" → "Ukraine").
        name = by_code.get(code, ("", ""))[0]
        if name and _fold(name)[:4] == _fold(nationality)[:4]:
            nationalities[_fold(nationality)] = name
    return by_code, nationalities


@lru_cache(maxsize=1)
def _country_display_names() -> dict[str, str]:
    """Folded country name or nationality → the country's name ("ukrainian" → "Ukraine")."""
    by_code, nationalities = _countries()
    return {_fold(name): name for name, _ in by_code.values()} | _COUNTRY_ALIASES | nationalities


def countries_named(text: str) -> set[str]:
    """The countries `text` names, directly or by nationality, by their names ("Ukrainian" → "Ukraine")."""
    display = _country_display_names()
    return {display[n] for n in place_names(text)[1] if n in display}


@lru_cache(maxsize=1)
def _state_forms() -> dict[str, frozenset[str]]:
    """Folded capital, country or nationality → every folded form of the same state: its country
    name, the aliases news writes, its nationalities and its capital ("moscow" → russia, russian,
    moscow). GeoNames' countryInfo gives the capitals."""
    by_code, nationalities = _countries()
    forms = {name: {_fold(name)} | ({_fold(capital)} if capital and _fold(capital) not in _NOT_PLACES else set()) for name, capital in by_code.values()}
    for form, country in (_COUNTRY_ALIASES | _OTHER_SPELLINGS | nationalities).items():
        forms.get(country, set()).add(form)
    return {f: frozenset(group) for group in forms.values() for f in group}


def state_forms(name: str) -> frozenset[str]:
    """The forms a state is named by in news, for a capital, a country or a nationality: "Moscow
    and Washington agreed" says what "Russia and the US agreed" says. Empty for other names."""
    return _state_forms().get(_fold(name), frozenset())
