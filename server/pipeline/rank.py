"""Hits -> cards: keep what clears the threshold, one card per document, best first;
merge near-identical passages from different sources; do not repeat a passage on
neighbouring sentences."""

from __future__ import annotations

import re
from collections.abc import Sequence

from index.search import Hit
from server.schema import Card, Sentence, Source

__all__ = ["NEIGHBOURS", "best_per_document", "rank", "spread", "to_card"]

# Sentences this close in the article share their passages: the best fit keeps one.
NEIGHBOURS = 3
# Word overlap above which two passages say the same thing in the same words.
_NEAR_IDENTICAL = 0.9
_WORDS = re.compile(r"\w+")


def best_per_document(hits: Sequence[Hit], *, threshold: float, limit: int) -> list[Hit]:
    """The best hit of each document, scores at or above the threshold, at most limit, best first."""
    kept: list[Hit] = []
    seen_docs: set[str] = set()
    for hit in sorted(hits, key=lambda h: h.score, reverse=True):
        if hit.score < threshold or len(kept) >= limit:
            break
        if hit.passage.doc_id in seen_docs:
            continue
        seen_docs.add(hit.passage.doc_id)
        kept.append(hit)
    return kept


def rank(hits: Sequence[Hit], *, threshold: float, limit: int) -> list[Card]:
    """Cards for one sentence: scores at or above the threshold, one per document, at most limit.

    A passage that is near-identical to a better one from another source joins
    that card as one more source instead of taking a place of its own.
    """
    groups: list[list[Hit]] = []
    for hit in best_per_document(hits, threshold=threshold, limit=len(hits)):
        words = _word_set(hit.passage.text)
        for group in groups:
            if _overlap(words, _word_set(group[0].passage.text)) >= _NEAR_IDENTICAL:
                group.append(hit)
                break
        else:
            if len(groups) < limit:
                groups.append([hit])
    return [to_card(group[0], also=group[1:]) for group in groups]


def spread(results: Sequence[tuple[Sentence, list[Card]]]) -> list[tuple[Sentence, list[Card]]]:
    """Show a passage once among neighbouring sentences: on the one it fits best.

    ``results`` are in article order; a sentence left without cards is dropped.
    """
    best: dict[str, list[tuple[int, float]]] = {}
    for position, (_sentence, cards) in enumerate(results):
        for card in cards:
            best.setdefault(card.id, []).append((position, card.score))
    kept: list[tuple[Sentence, list[Card]]] = []
    for position, (sentence, cards) in enumerate(results):
        mine = [
            card for card in cards
            if not any(
                other != position and abs(other - position) <= NEIGHBOURS
                and (score, -other) > (card.score, -position)
                for other, score in best[card.id]
            )
        ]
        if mine:
            kept.append((sentence, mine))
    return kept


def _word_set(text: str) -> set[str]:
    return set(_WORDS.findall(text.casefold()))


def _overlap(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def to_card(hit: Hit, also: Sequence[Hit] = ()) -> Card:
    """The card a reader sees for one retrieved passage (and the sources that say the same)."""
    p = hit.passage
    sources = tuple(
        Source(h.passage.publisher, h.passage.title, h.passage.url, h.passage.published)
        for h in (hit, *also)
    )
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
        sources=sources,
        claimant=p.claimant,
        rating=p.rating,
    )
