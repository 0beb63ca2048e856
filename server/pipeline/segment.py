"""Blocks -> sentences with offsets and anchoring context; decide which are worth searching."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from index.text import split_sentences
from server.schema import Block, Sentence

__all__ = ["ANCHOR_CHARS", "is_checkable", "segment"]

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

    Offsets are into the block's own text, so ``text[start:end] == exact``;
    ``prefix`` and ``suffix`` are up to 32 characters on either side.
    """
    for block in blocks:
        spans = split_sentences(block.text, language)
        lone = len(spans) == 1
        for span in spans:
            exact = block.text[span.start : span.end]
            sentence = Sentence(
                block=block.id,
                start=span.start,
                end=span.end,
                exact=exact,
                prefix=block.text[max(0, span.start - ANCHOR_CHARS) : span.start],
                suffix=block.text[span.end : span.end + ANCHOR_CHARS],
            )
            yield sentence, is_checkable(exact, lone_in_block=lone)


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
