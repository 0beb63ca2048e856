"""Hits -> cards: keep what clears the threshold, one card per document, best first."""

from __future__ import annotations

from collections.abc import Sequence

from index.search import Hit
from server.schema import Card

__all__ = ["to_card", "rank"]


def rank(hits: Sequence[Hit], *, threshold: float, limit: int) -> list[Card]:
    """Cards for one sentence: scores at or above the threshold, one per document, at most limit."""
    cards: list[Card] = []
    seen_docs: set[str] = set()
    for hit in sorted(hits, key=lambda h: h.score, reverse=True):
        if hit.score < threshold or len(cards) >= limit:
            break
        if hit.passage.doc_id in seen_docs:
            continue
        seen_docs.add(hit.passage.doc_id)
        cards.append(to_card(hit))
    return cards


def to_card(hit: Hit) -> Card:
    """The card a reader sees for one retrieved passage."""
    p = hit.passage
    return Card(
        id=str(p.id),
        text=p.text,
        title=p.title,
        url=p.url,
        publisher=p.publisher,
        published=p.published,
        kind=p.kind,
        license=p.license,
        score=round(hit.score, 4),
    )
