"""Blocks -> sentences with offsets and anchoring context; decide which are worth searching."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from index.text import split_sentences
from server.schema import Block, Sentence

__all__ = ["ANCHOR_CHARS", "is_checkable", "segment", "utf16_length"]

ANCHOR_CHARS = 32
_MIN_WORDS = 5
_MIN_CHARS = 25
_HEADING_MAX_WORDS = 14
_TERMINAL = ".!?…\"”’'»)"
_OPEN_QUOTES = "\"“‘'«„"
_CLOSE_QUOTES = "\"”’'»“"
_WORD = re.compile(r"[^\W_]+(?:['’.-][^\W_]+)*")


def segment(blocks: Iterable[Block], language: str | None = None) -> Iterator[tuple[Sentence, bool]]:
    """Yield every sentence of every block with whether it is checkable.

    ``start``/``end`` count code points into the block's own text, so
    ``text[start:end] == exact``; ``start_utf16``/``end_utf16`` are the same places in
    UTF-16 code units, what JavaScript's ``text.slice`` takes. ``prefix`` and ``suffix``
    are up to 32 code points on either side.
    """
    for block in blocks:
        spans = split_sentences(block.text, language)
        lone = len(spans) == 1
        # Spans come in order: count code units onwards from the last one, not from 0.
        done, units = 0, 0
        for span in spans:
            if span.start < done:  # overlapping or out of order: count afresh
                done, units = 0, 0
            units += utf16_length(block.text[done : span.start])
            start_utf16 = units
            units += utf16_length(block.text[span.start : span.end])
            done = span.end
            exact = block.text[span.start : span.end]
            sentence = Sentence(
                block=block.id,
                start=span.start,
                end=span.end,
                exact=exact,
                prefix=block.text[max(0, span.start - ANCHOR_CHARS) : span.start],
                suffix=block.text[span.end : span.end + ANCHOR_CHARS],
                start_utf16=start_utf16,
                end_utf16=units,
            )
            yield sentence, is_checkable(exact, lone_in_block=lone)


def utf16_length(text: str) -> int:
    """Length of text in UTF-16 code units: a code point above U+FFFF takes two.

    Encoded with ``surrogatepass``, so a lone surrogate (valid JSON, and one unit in the
    client's string) counts one instead of raising UnicodeEncodeError; in C, about 35 times
    faster than counting code points in Python (it runs over every block of every request).
    """
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def is_checkable(sentence: str, *, lone_in_block: bool = False) -> bool:
    """Whether a sentence can carry a checkable claim.

    Not searched: short fragments, questions, headings (a lone line in its
    block without closing punctuation) and sentences that are only a quotation.
    """
    text = sentence.strip()
    words = _WORD.findall(text)
    if len(words) < _MIN_WORDS or len(text) < _MIN_CHARS:
        return False
    if text.rstrip(_CLOSE_QUOTES + " ").endswith("?"):
        return False
    if lone_in_block and len(words) <= _HEADING_MAX_WORDS and not text.endswith(tuple(_TERMINAL)):
        return False
    return not _is_quote_only(text)


def _is_quote_only(text: str) -> bool:
    if text[0] not in _OPEN_QUOTES:
        return False
    body = text.rstrip(".!?…")
    if not body or body[-1] not in _CLOSE_QUOTES:
        return False
    # The quotation must close only at the end, not open-close-then-attribution.
    inner = body[1:-1]
    return not any(q in inner for q in "\"”“")
