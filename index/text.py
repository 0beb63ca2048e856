"""Text primitives shared by the index builder and the service: whitespace and sentences."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

import pysbd

__all__ = ["Span", "content_hash", "normalise_whitespace", "split_sentences", "text_hash"]

# pysbd's rules exist for these; other languages fall back to English rules,
# which still split on ordinary sentence punctuation.
_PYSBD_LANGUAGES = frozenset({"en", "fr", "es", "de", "it", "nl", "pt", "ru", "pl", "da"})
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Span:
    """A sentence as character offsets into the text it came from."""

    start: int
    end: int


def normalise_whitespace(text: str) -> str:
    """Collapse runs of whitespace (including non-breaking spaces) to one space and strip."""
    return _WHITESPACE.sub(" ", text.replace("\xa0", " ")).strip()


def content_hash(text: str) -> str:
    """Hash of the exact text: any change, even of case or spacing, changes it."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def text_hash(text: str) -> str:
    """Hash of the text after Unicode, case and whitespace normalisation (for dedupe)."""
    normal = normalise_whitespace(unicodedata.normalize("NFKC", text)).casefold()
    return hashlib.blake2b(normal.encode("utf-8"), digest_size=16).hexdigest()


def _segmenter(language: str) -> pysbd.Segmenter:
    # A new segmenter per call: pysbd keeps the text being split on the
    # instance, so one shared between server threads mixes up articles.
    # Construction costs microseconds.
    return pysbd.Segmenter(language=language, clean=False)


def _language_code(language: str | None) -> str:
    code = (language or "en").lower().replace("_", "-").split("-")[0]
    return code if code in _PYSBD_LANGUAGES else "en"


def split_sentences(text: str, language: str | None = "en") -> list[Span]:
    """Split text into sentences and return their offsets, whitespace trimmed.

    pysbd handles abbreviations (U.S., Dr., Jan.), decimals, quotes and
    ellipses. Its offsets are recomputed here by locating each segment in the
    original text, because its ``char_span`` mode is unreliable when a
    sentence repeats; every returned span satisfies ``text[start:end].strip()``
    being non-empty and spans are in order without overlap.
    """
    if not text.strip():
        return []
    spans: list[Span] = []
    cursor = 0
    for piece in _segmenter(_language_code(language)).segment(text):
        stripped = piece.strip()
        if not stripped:
            continue
        found = text.find(stripped, cursor)
        if found < 0:
            # pysbd returned text that is not verbatim in the input; keep the
            # rest of the text as one sentence rather than invent offsets.
            break
        spans.append(Span(found, found + len(stripped)))
        cursor = found + len(stripped)
    rest = text[cursor:]
    if rest.strip():
        lead = len(rest) - len(rest.lstrip())
        spans.append(Span(cursor + lead, cursor + len(rest.rstrip())))
    return spans
