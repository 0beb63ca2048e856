"""Typed records that cross module boundaries: what sources yield and what the store holds."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Passage", "SourceRecord"]


@dataclass(frozen=True)
class SourceRecord:
    """One document read from a source, before chunking.

    ``context`` is prepended to the text that is embedded (never to the text
    shown), so short values such as "USA 76%, Canada 5%" keep their meaning.
    """

    doc_id: str
    text: str
    source: str
    kind: str
    title: str | None = None
    url: str | None = None
    publisher: str | None = None
    published: str | None = None
    language: str | None = None
    license: str | None = None
    context: str | None = None
    claimant: str | None = None  # fact-checks: who made the claim reviewed (the text)
    rating: str | None = None  # fact-checks: the reviewer's textual rating, e.g. "False"


@dataclass(frozen=True)
class Passage:
    """A unit of retrieval: shown text, embedded text and the card's provenance."""

    doc_id: str
    text: str
    embed_text: str
    source: str
    kind: str
    title: str | None = None
    url: str | None = None
    publisher: str | None = None
    published: str | None = None
    language: str | None = None
    license: str | None = None
    claimant: str | None = None
    rating: str | None = None
    id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
