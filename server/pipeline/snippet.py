"""What a card shows first: the passage's sentences that match, its section, a readable title.

A passage can be a 1,000-character Factbook field ("Military - note") of which one clause
bears on the sentence. The card leads with the passage sentence (or "label: value" part)
that shares the most words with the sentence, widened with its neighbours up to about
300 characters; the whole passage stays in the card's ``text`` for "more".
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from index.records import Passage
from index.text import split_sentences

__all__ = ["MATCHED_WORDS", "SNIPPET_CHARS", "category", "section", "shared_words", "snippet", "title"]

SNIPPET_CHARS = 300
ELLIPSIS = "…"
_WORD = re.compile(r"[^\W_]+")
# Words too common to say which part of a passage matched.
_STOP = frozenset("""
a an the and or but of in on at to for from by with as is are was were be been has have had
it its this that these those he she they his her their which who whom not no also than then
there said says will would can could may might more most over under after before about into
""".split())
# Factbook fields join their parts with "; ": each part is a unit of its own.
_PARTS = re.compile(r"(?<=[^\s;]); (?=\S)")
# The most shared words a card names (why it matched).
MATCHED_WORDS = 8
# Sources whose figures a card shows as a statistic; an operator's own can say kind "statistic".
_STATISTICAL_KINDS = frozenset({"statistic", "factbook"})
_FIGURE = re.compile(r"\d")
# A word as the card shows it: letters and digits, with inner apostrophes, dots and commas of
# numbers ("1,200", "3.5", "U.S.") kept.
_SHOWN_WORD = re.compile(r"[^\W_]+(?:[.,'’][^\W_]+)*")
_KIND_TITLES = {"fact-check": "Fact-check", "factbook": "CIA World Factbook", "wikipedia": "Wikipedia",
                "article": "Article", "document": "Document"}


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.casefold()) if w not in _STOP and len(w) > 1}


def _units(text: str, language: str | None) -> list[tuple[int, int]]:
    """Sentence spans, with long sentences split further at "; " parts."""
    units: list[tuple[int, int]] = []
    for span in split_sentences(text, language):
        start = span.start
        if span.end - span.start > SNIPPET_CHARS:
            for match in _PARTS.finditer(text, span.start, span.end):
                units.append((start, match.start()))
                start = match.end()
        units.append((start, span.end))
    return [(s, e) for s, e in units if text[s:e].strip()]


def snippet(text: str, query: str, *, language: str | None = "en", limit: int = SNIPPET_CHARS) -> str:
    """The part of ``text`` that best matches ``query``, at most about ``limit`` characters.

    The whole text when it fits; otherwise the best matching sentence or part (most query
    words, the earlier on a tie), then its neighbours while they fit. Cut text is marked
    with "…" at the cut ends; a single part longer than the limit is cut at a word.
    """
    text = text.strip()
    if len(text) <= limit:
        return text
    units = _units(text, language)
    if not units:
        return _cut(text, limit)
    wanted = _words(query)
    best = max(range(len(units)), key=lambda i: (len(wanted & _words(text[slice(*units[i])])), -i))
    first = last = best
    while True:
        grown = False
        if last + 1 < len(units) and units[last + 1][1] - units[first][0] <= limit:
            last, grown = last + 1, True
        if first > 0 and units[last][1] - units[first - 1][0] <= limit:
            first, grown = first - 1, True
        if not grown:
            break
    start, end = units[first][0], units[last][1]
    body = text[start:end].strip().rstrip(";")
    if len(body) > limit:
        body = _cut(body, limit)
    elif end < len(text.rstrip()):
        body += f" {ELLIPSIS}" if body.endswith((".", "!", "?", ")")) else ELLIPSIS
    return (ELLIPSIS + " " if start > 0 else "") + body


def _cut(text: str, limit: int) -> str:
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(" ,;:")
    return cut + ELLIPSIS


def section(passage: Passage) -> str | None:
    """The field or section the passage comes from ("Military - note"), when its source has one."""
    if passage.kind == "factbook" and passage.title and " — " in passage.title:
        return passage.title.split(" — ", 1)[1]
    return None


def title(passage: Passage) -> str:
    """A title a reader can read: the passage's own, never an internal id.

    Without one (or with one that is only its document id), a fact-check is titled by
    its reviewer ("Fact-check by PolitiFact"), other passages by their publisher or kind.
    """
    own = (passage.title or "").strip()
    local = passage.doc_id.rsplit(":", 1)[-1]
    is_id = own == passage.doc_id or (own == local and " " not in own and any(c.isdigit() for c in own))
    if own and not is_id:
        return own
    label = _KIND_TITLES.get(passage.kind, "Source")
    if passage.kind == "fact-check":
        return f"{label} by {passage.publisher}" if passage.publisher else label
    return passage.publisher or label


@cache
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def _key(word: str) -> str | None:
    """What two spellings of a word share: its stem, or a number's digits (None: not a word
    that says why a passage matched)."""
    folded = word.casefold().replace("’", "'")
    if folded.endswith("'s"):
        folded = folded[:-2]
    if _FIGURE.search(folded):
        digits = folded.replace(",", "")
        return digits if any(c.isdigit() for c in digits) else None
    if folded in _STOP or len(folded) < 3:
        return None
    stem: str = _stemmer().stemWord(folded)
    return stem


def shared_words(sentence: str, passage: str, *, limit: int = MATCHED_WORDS) -> tuple[str, ...]:
    """The passage's words that the sentence shares, as the passage spells them: why it matched.

    Words match by stem ("tariffs" and "tariff") and numbers by their digits ("1,200" and
    "1200"); stopwords and one- or two-letter words do not count. In passage order, each
    word once (by stem), at most ``limit``.
    """
    wanted = {k for k in map(_key, _SHOWN_WORD.findall(sentence)) if k}
    found: dict[str, str] = {}
    for word in _SHOWN_WORD.findall(passage):
        key = _key(word)
        if key and key in wanted and key not in found:
            found[key] = word
            if len(found) == limit:
                break
    return tuple(found.values())


def category(passage: Passage) -> str:
    """What the card is to a reader: "fact-check", "statistic" (a figure from a statistical
    source: the Factbook, or a source of kind "statistic") or "reference"."""
    if passage.kind == "fact-check":
        return "fact-check"
    if passage.kind in _STATISTICAL_KINDS and _FIGURE.search(passage.text):
        return "statistic"
    return "reference"
