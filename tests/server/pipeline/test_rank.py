from __future__ import annotations

from index.records import Passage
from index.search import Hit
from server.pipeline.rank import rank, spread
from server.schema import Sentence


def hit(pid: int, doc: str, text: str, score: float, publisher: str = "P") -> Hit:
    passage = Passage(doc_id=doc, text=text, embed_text=text, source="s", kind="document",
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
