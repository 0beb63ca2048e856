"""Proper names and numbers in news text, found without a tagger: what a sentence is about.

A name is a run of capitalised words ("Aung San Suu Kyi", "New York Times", "U.S."),
joined across the lower-case particles of names ("Islamic Republic of Afghanistan",
"Osama bin Laden"), without titles ("President Obama" is "Obama") and without the
capitalised function words that open sentences ("The", "However"). Names are compared
as tuples of folded tokens: accents and case removed, "U.S." read as "us", possessive
"'s" dropped and hyphens split ("Kim Jong-un" is ("kim", "jong", "un")).

There is no named-entity model on the registries this project installs from, and
capitalisation is what English news marks names with; the rescoring stage fits how much
to trust each of these signals on judged cards.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

__all__ = ["Name", "bare_name", "fold", "match", "name_of", "names", "numbers"]

Name = tuple[str, ...]

_TOKEN = re.compile(r"[^\W\d_][\w'’.\-]*|\d[\d,.]*\d|\d")
# Months and weekdays: capitalised, never part of a name.
_DATES = frozenset("""
january february march april may june july august september october november december
monday tuesday wednesday thursday friday saturday sunday jan feb mar apr jun jul aug sep sept oct
nov dec mon tue tues wed thu thurs fri sat sun
""".split())
# Lower-case words that stay inside a name ("Republic of Korea", "Osama bin Laden").
_PARTICLES = frozenset({"of", "the", "de", "del", "da", "du", "la", "le", "al", "bin", "ibn", "von",
                        "van", "der", "den", "y", "el", "di"})
# Capitalised words that do not name anything by themselves: function words that open a
# sentence or a quotation, titles before a name, and dates.
_COMMON = frozenset("""
a an the this that these those there then thus so but and or nor yet for if when while as at by in
on of to from with without into after before during since until although though because however
meanwhile moreover also still even just only some many most more much several all any each every
both either neither no not one two three four five six seven eight nine ten first second last
next other another such it its it's he she his her him hers they them their we our you your i
me my what which who whom whose where why how here today yesterday tomorrow tonight now later
earlier according despite instead following under over about against among between through
mr mrs ms dr prof sir madam president vice prime minister ministers king queen prince princess
sheikh sheik pope senator sen rep representative gov governor mayor general gen chancellor
secretary chairman chairwoman chief director spokesman spokeswoman minister's officials
leader leaders judge justice ambassador commander captain colonel lieutenant sergeant
""".split()) | _DATES
_ABBREVIATION = re.compile(r"(?:\w\.)+")  # "U.S.", "D.C.": the periods are part of the name
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


@lru_cache(maxsize=65536)
def fold(token: str) -> tuple[str, ...]:
    """A token's comparable parts: accents and case removed, periods and "'s" dropped."""
    if token.isascii():
        text = token.lower()
    else:
        text = unicodedata.normalize("NFKD", token)
        text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = re.sub(r"['’]s$", "", text).replace(".", "").replace("'", "").replace("’", "")
    return tuple(part for part in text.split("-") if part)


def _capitalised(token: str) -> bool:
    return token[0].isupper() or (token[0].islower() and "-" in token
                                  and any(p[:1].isupper() for p in token.split("-")))


def names(text: str) -> list[Name]:
    """The proper names in a text, in order, each as a tuple of folded tokens."""
    return list(_names(text))


@lru_cache(maxsize=8192)
def _names(text: str) -> tuple[Name, ...]:
    # Cached: the rescoring stage reads each sentence twice (with the article, then alone),
    # and the same passages for many sentences.
    found: list[Name] = []
    current: list[str] = []
    pending: list[str] = []  # particles seen inside a name, kept only if the name goes on
    end = 0
    for match in _TOKEN.finditer(text):
        # Punctuation between two words ends a name: "Sadat (God", "Obama, Castro".
        start = match.start()
        if current and start > end and text[end:start].strip():
            found.append(tuple(current))
            current, pending = [], []
        end = match.end()
        token = match.group()
        first = token[0]
        if first.islower() and "-" not in token:  # most words: not part of a name
            if current and token in _PARTICLES:
                pending.append(token)
            elif current:
                found.append(tuple(current))
                current, pending = [], []
            continue
        raw = token if _ABBREVIATION.fullmatch(token) else token.rstrip(".")
        if not raw or first.isdigit() or not _capitalised(raw):
            if current and raw.casefold() in _PARTICLES:
                pending.append(raw.casefold())
            elif current:
                found.append(tuple(current))
                current, pending = [], []
            continue
        parts = fold(raw)
        common = bool(parts) and all(p in _COMMON for p in parts)
        # A title inside a name stays ("Sharif Sheik Ahmed"); dates never join one.
        if not common or (current and not set(parts) & _DATES):
            current += pending + list(parts)
            pending = []
        elif current:
            found.append(tuple(current))
            current, pending = [], []
    if current:
        found.append(tuple(current))
    return tuple(found)


def match(subject: Iterable[Name], mentioned: Iterable[Name]) -> float:
    """How well the names mentioned refer to the subject (any of its forms), from 0 to 1.

    1: a mention is one of the subject's forms ("Hugo Chavez" for "Hugo Chávez", "Chinese"
    for China). Between: a mention is the tail of a form, as a surname is of a person
    ("Chavez": 1/2), or opens a longer name, as a nationality does ("Brazilian Dictatorship":
    3/4). 0: no mention, or only longer names that end in a form, since "New York Times" is
    not "The Times".
    """
    forms = _bare_forms(tuple(subject))
    best = 0.0
    for mention in mentioned:
        bare = bare_name(mention)
        for form in forms:
            if bare == form:
                return 1.0
            if bare and len(bare) < len(form) and form[-len(bare):] == bare and len(bare[-1]) > 3:
                best = max(best, len(bare) / len(form))
            elif len(bare) > len(form) and bare[:len(form)] == form:
                best = max(best, 0.75)
    return best


@lru_cache(maxsize=65536)
def bare_name(name: Name) -> Name:
    """A name without its particles: ("islamic", "republic", "afghanistan")."""
    return tuple(t for t in name if t not in _PARTICLES)


@lru_cache(maxsize=8192)
def _bare_forms(subject: tuple[Name, ...]) -> tuple[Name, ...]:
    return tuple(f for f in (bare_name(form) for form in subject) if f)


def numbers(text: str) -> set[str]:
    """The numbers in a text, without thousands separators ("20,310" -> "20310"); 0-9 left out."""
    found = {n.replace(",", "") for n in _NUMBER.findall(text)}
    return {n for n in found if len(n) > 1}


def name_of(text: str) -> Name:
    """A title or alias as one name: every token folded ("The Times" -> ("the", "times"))."""
    return tuple(part for token in _TOKEN.findall(text) for part in fold(token))
