"""Cut a source record into passages of whole sentences; drop exact duplicates."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from index.records import Passage, SourceRecord, provenance_of
from index.text import normalise_whitespace, split_sentences, text_hash

__all__ = ["Deduper", "chunk"]


def chunk(
    record: SourceRecord, *, max_sentences: int = 3, max_chars: int = 600
) -> Iterator[Passage]:
    """Yield passages of 1..max_sentences consecutive sentences, each at most max_chars.

    A single sentence longer than max_chars stays whole: cutting inside a
    sentence would make a card that misquotes its source.
    """
    text = record.text
    group_start: int | None = None
    group_end = 0
    count = 0
    for span in split_sentences(text, record.language):
        if group_start is not None and (
            count >= max_sentences or span.end - group_start > max_chars
        ):
            yield _passage(record, text[group_start:group_end])
            group_start = None
        if group_start is None:
            group_start, count = span.start, 0
        group_end = span.end
        count += 1
    if group_start is not None:
        yield _passage(record, text[group_start:group_end])


def _passage(record: SourceRecord, raw: str) -> Passage:
    text = normalise_whitespace(raw)
    embed_text = f"{record.context}: {text}" if record.context else text
    return Passage(doc_id=record.doc_id, text=text, embed_text=embed_text, source=record.source,
                   **provenance_of(record))


@dataclass
class Deduper:
    """Passes each distinct passage once, by a hash of its normalised title and text.

    The title is part of the key: "varies from tropical to desert" is the
    climate of several countries, and each of them needs its own passage.
    """

    dropped: int = 0
    _seen: set[str] = field(default_factory=set)

    def filter(self, passages: Iterable[Passage]) -> Iterator[Passage]:
        for passage in passages:
            key = text_hash(f"{passage.title or ''}\n{passage.text}")
            if key in self._seen:
                self.dropped += 1
                continue
            self._seen.add(key)
            yield passage
