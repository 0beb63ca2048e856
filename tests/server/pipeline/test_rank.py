from __future__ import annotations

from index.records import Passage
from index.search import Hit
from server.pipeline.rank import candidates, spread
from server.pipeline.rank import rank as rank_candidates
from server.pipeline.rescore import Candidate
from server.schema import Sentence


def rank(hits, *, threshold, limit):
    """Ranking with rescoring off: every card gated on its fused score."""
    return rank_candidates(candidates(hits, floor=threshold), threshold=threshold, min_confidence=0.0,
                           limit=limit)


def hit(pid: int, doc: str, text: str, score: float, publisher: str = "P", kind: str = "document") -> Hit:
    passage = Passage(doc_id=doc, text=text, embed_text=text, source="s", kind=kind,
                      title=doc, publisher=publisher, id=pid)
    return Hit(passage, score)


def sentence(n: int) -> Sentence:
    return Sentence(block="b", start=n, end=n + 1, exact=f"s{n}", prefix="", suffix="")


def test_threshold_one_card_per_document_best_first():
    cards = rank([hit(1, "a", "x y", 0.7), hit(2, "a", "z w", 0.9), hit(3, "b", "q r", 0.5)],
                 threshold=0.6, limit=3)
    assert [c.id for c in cards] == ["2"]


def test_near_identical_passages_from_two_sources_become_one_card():
    text = "Mexico exported goods worth $680 billion in 2024, most of them to the United States."
    cards = rank([
        hit(1, "factbook", text, 0.82, "CIA World Factbook"),
        hit(2, "mirror", text.replace("2024,", "2024"), 0.80, "Mirror Site"),
        hit(3, "other", "Canada exports oil and gas.", 0.75, "Other"),
    ], threshold=0.6, limit=3)
    assert [c.id for c in cards] == ["1", "3"]
    assert [s.publisher for s in cards[0].sources] == ["CIA World Factbook", "Mirror Site"]


def test_a_passage_stays_on_the_neighbouring_sentence_it_fits_best():
    # Positions in the list are the article's order of searched sentences.
    shared = hit(9, "d", "shared passage", 0.7)
    better = hit(9, "d", "shared passage", 0.8)
    own = hit(5, "e", "own passage", 0.65)
    results = [
        (sentence(0), rank([shared, own], threshold=0.6, limit=3)),
        (sentence(1), rank([better], threshold=0.6, limit=3)),
        *[(sentence(n), []) for n in range(2, 6)],
        (sentence(6), rank([shared], threshold=0.6, limit=3)),
    ]
    kept = spread(results)
    assert [(s.start, [c.id for c in cards]) for s, cards in kept] == [
        (0, ["5"]), (1, ["9"]), (6, ["9"]),
    ], "far-apart sentences may both show it; empty sentences are dropped"


def test_rescored_cards_are_gated_on_confidence_and_claim_matches_on_score():
    found = [
        Candidate(hit(1, "a", "about the sentence's own country", 0.50, kind="factbook"), 0.9),
        Candidate(hit(2, "b", "same topic, another country", 0.70, kind="factbook"), 0.2),
        Candidate(hit(3, "c", "the claim itself, fact-checked", 0.65, kind="fact-check"), None),
        Candidate(hit(4, "d", "a claim that only looks alike", 0.55, kind="fact-check"), None),
    ]
    cards = rank_candidates(found, threshold=0.6, min_confidence=0.5, limit=3, sentence="s")
    # The fact-check that matches the claim comes first, then the card likely to help; a
    # high similarity score alone does not show a card the model judges unhelpful.
    assert [c.id for c in cards] == ["3", "1"]
    assert [c.confidence for c in cards] == [None, 0.9]
    assert rank_candidates(found, threshold=0.6, min_confidence=0.95, limit=3) == cards[:1]
