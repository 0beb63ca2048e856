"""The article's language, and whether the embedding model can read it (py3langid).

An English-only model (all-MiniLM-L6-v2) matches a French sentence only by accident, through
names and numbers: such an article is not searched, and the answer says why with a notice.
The decision is made once per article, not per paragraph: a paragraph is often too short to
tell (a name, a figure, a quote), and a wrong guess would hide the cards of a real one.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from server.schema import Notice

__all__ = ["Detector", "LanguageCheck", "check_language", "detect", "language_check", "load_detector",
           "primary_subtag"]

logger = logging.getLogger(__name__)

# Characters of the article read to tell its language: enough for a confident guess, and
# about a millisecond of py3langid (its cost grows with the text).
SAMPLE_CHARS = 1_500
# Below this many letters the text does not decide; the request's ``lang`` does, if any.
MIN_LETTERS = 40
# py3langid's normalised probability a guess from the text needs to overrule ``lang``.
MIN_PROBABILITY = 0.9


class Detector(Protocol):
    def classify(self, text: str) -> tuple[str, float]: ...


@dataclass(frozen=True, kw_only=True)
class LanguageCheck:
    """The languages the embedding model reads (ISO 639-1) and the detector that guesses."""

    supported: frozenset[str]
    detector: Detector


@functools.cache
def load_detector() -> Detector:
    """py3langid's shipped model (97 languages), read once per process (~1.5 s, read-only)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    started = time.perf_counter()
    detector: Detector = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    logger.info("language detector loaded in %.1f s", time.perf_counter() - started)
    return detector


def language_check(languages: Iterable[str]) -> LanguageCheck | None:
    """The check for the LANGUAGES setting (ISO 639-1 codes); None when it is empty (off)."""
    supported = frozenset(languages)
    return LanguageCheck(supported=supported, detector=load_detector()) if supported else None


def primary_subtag(tag: str | None) -> str | None:
    """``"fr-CA"`` or ``"FR_ca"`` -> ``"fr"``; None for an empty or non-alphabetic tag."""
    head = (tag or "").strip().replace("_", "-").split("-")[0].lower()
    return head if head.isascii() and head.isalpha() and 2 <= len(head) <= 3 else None


def detect(texts: list[str], declared: str | None, detector: Detector) -> str | None:
    """The article's language: the text's, when long enough to tell, else ``declared``'s."""
    sample = " ".join(texts)[:SAMPLE_CHARS]
    if sum(c.isalpha() for c in sample) >= MIN_LETTERS:
        guess, probability = detector.classify(sample)
        if probability >= MIN_PROBABILITY:
            return guess
    return primary_subtag(declared)


def check_language(texts: list[str], declared: str | None, check: LanguageCheck) -> list[Notice]:
    """A ``language_unsupported`` notice when the article's language is known and not read."""
    language = detect(texts, declared, check.detector)
    if language is None or language in check.supported:
        return []
    readable = ", ".join(sorted(check.supported))
    return [Notice(
        code="language_unsupported", language=language,
        message=f"This article seems to be in a language ({language}) that this service's model "
                f"cannot read (it reads: {readable}); it was not searched, so no context is shown.",
    )]
