"""Candidates -> cards: keep what clears its kind's bar, one card per document, best first;
merge near-identical passages from different sources; do not repeat a passage on
neighbouring sentences.

A card scored by the rescoring stage (``confidence``, the probability that it helps) is
kept at or above ``min_confidence``; a card it does not score (a fact-check, or every card
when rescoring is off) must have a fused ``score`` at or above ``threshold``, a match of
the claim itself. Scored and unscored cards rank apart: unscored (claim matches) first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from index.records import passage_hash
from index.search import Hit
from server.pipeline.rescore import Candidate
from server.pipeline.retrieve import best_per_document
from server.pipeline.snippet import category, section, shared_words, snippet, title
from server.schema import Card, Sentence, Source, shown_provenance

__all__ = ["NEIGHBOURS", "best_per_document", "candidates", "rank", "spread", "strength", "to_card"]

# Sentences this close in the article share their passages: the best fit keeps one.
NEIGHBOURS = 3
# Word overlap above which two passages say the same thing in the same words.
_NEAR_IDENTICAL = 0.9
_WORDS = re.compile(r"\w+")


def candidates(hits: Sequence[Hit], *, floor: float) -> list[Candidate]:
    """Unscored candidates: the best hit of each document at or above ``floor``, best first."""
    return [Candidate(h, None) for h in best_per_document(hits, threshold=floor, limit=len(hits))]


def strength(card: Card) -> tuple[bool, float]:
    """How cards of one sentence, or one passage on neighbouring sentences, are ordered."""
    return _strength(card.confidence, card.score)


def _strength(confidence: float | None, score: float) -> tuple[bool, float]:
    # Unscored cards (claim matches) first, by score; then scored ones, by confidence.
    return (confidence is None, score if confidence is None else confidence)


def rank(
    found: Sequence[Candidate], *, threshold: float, min_confidence: float, limit: int,
    sentence: str = "",
) -> list[Card]:
    """Cards for one sentence: the candidates that clear their bar, at most limit.

    ``found`` holds one candidate a document (as ``candidates`` and the rescoring stage
    make them). A passage that is near-identical to a better one from another source joins
    that card as one more source instead of taking a place of its own.
    """
    kept = [
        c for c in found
        if (c.hit.score >= threshold if c.confidence is None else c.confidence >= min_confidence)
    ]
    groups: list[list[Candidate]] = []
    for candidate in sorted(kept, key=lambda c: _strength(c.confidence, c.hit.score), reverse=True):
        words = _word_set(candidate.hit.passage.text)
        for group in groups:
            if _overlap(words, _word_set(group[0].hit.passage.text)) >= _NEAR_IDENTICAL:
                group.append(candidate)
                break
        else:
            if len(groups) < limit:
                groups.append([candidate])
    return [to_card(g[0].hit, also=[c.hit for c in g[1:]], confidence=g[0].confidence, query=sentence)
            for g in groups]


def spread(results: Sequence[tuple[Sentence, list[Card]]]) -> list[tuple[Sentence, list[Card]]]:
    """Show a passage once among neighbouring sentences: on the one it fits best.

    ``results`` are in article order; a sentence left without cards is dropped.
    """
    best: dict[str, list[tuple[int, tuple[bool, float]]]] = {}
    for position, (_sentence, cards) in enumerate(results):
        for card in cards:
            best.setdefault(card.id, []).append((position, strength(card)))
    kept: list[tuple[Sentence, list[Card]]] = []
    for position, (sentence, cards) in enumerate(results):
        mine = [
            card for card in cards
            if not any(
                other != position and abs(other - position) <= NEIGHBOURS
                and (score, -other) > (strength(card), -position)
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


def to_card(
    hit: Hit, also: Sequence[Hit] = (), *, confidence: float | None = None, query: str = ""
) -> Card:
    """The card a reader sees for one retrieved passage (and the sources that say the same).

    ``query`` is the sentence the card is for: the snippet leads with what matches it.
    """
    p = hit.passage
    sources = tuple(Source(**shown_provenance(Source, h.passage, title=title(h.passage)))
                    for h in (hit, *also))
    return Card(
        id=str(p.id),
        text=p.text,
        score=round(hit.score, 4),
        confidence=None if confidence is None else round(confidence, 4),
        sources=sources,
        snippet=snippet(p.text, query, language=p.language),
        section=section(p),
        doc_id=p.doc_id,
        passage_hash=passage_hash(p.text),
        category=category(p),
        matched=shared_words(query, p.text),
        **shown_provenance(Card, p, title=title(p)),
    )
