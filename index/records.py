"""Typed records that cross module boundaries: what sources yield and what the store holds.

``Provenance`` declares, once, what a card says about where its text comes from.
``SourceRecord`` and ``Passage`` are provenance plus their own fields (subclasses, so
``record.title`` reads as before and a record's flat JSON, hence its content hash,
stays the same); a passage takes its record's provenance whole (``provenance_of``).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, fields
from typing import Any

__all__ = ["Passage", "Provenance", "SourceRecord", "passage_hash", "provenance_of"]


@dataclass(frozen=True, kw_only=True)
class Provenance:
    """Where a text comes from: its kind ("article", "fact-check", …) and what is known of its origin.

    ``language`` is an ISO 639-1 or BCP 47 tag; ``published`` an ISO date or year.
    """

    kind: str
    title: str | None = None
    url: str | None = None
    publisher: str | None = None
    published: str | None = None
    language: str | None = None
    license: str | None = None
    claimant: str | None = None  # fact-checks: who made the claim reviewed (the text)
    rating: str | None = None  # fact-checks: the reviewer's textual rating, e.g. "False"


def passage_hash(text: str) -> str:
    """A passage's text key: the first 32 hex digits (128 bits) of the SHA-256 of its UTF-8 text.

    With the document id it names a passage across builds, where the store's integer ids do
    not: a rebuild or an update numbers passages afresh, but an unchanged text keeps its hash.
    """
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def provenance_of(item: Provenance) -> dict[str, Any]:
    """The provenance fields of a record or passage, by name: the keywords of another's."""
    return {f.name: getattr(item, f.name) for f in fields(Provenance)}


@dataclass(frozen=True, kw_only=True)
class SourceRecord(Provenance):
    """One document read from a source, before chunking.

    ``context`` is prepended to the text that is embedded (never to the text
    shown), so short values such as "USA 76%, Canada 5%" keep their meaning.
    """

    doc_id: str
    text: str
    source: str
    context: str | None = None


@dataclass(frozen=True, kw_only=True)
class Passage(Provenance):
    """A unit of retrieval: shown text, embedded text and the card's provenance."""

    doc_id: str
    text: str
    embed_text: str
    source: str
    id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
