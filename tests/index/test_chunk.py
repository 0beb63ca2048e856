from __future__ import annotations

from index.chunk import Deduper, chunk
from index.records import SourceRecord


def record(text: str, **kw) -> SourceRecord:
    return SourceRecord(doc_id="d1", text=text, source="test", kind="document", **kw)


def test_passages_hold_one_to_three_whole_sentences():
    text = " ".join(f"Sentence number {n} is here." for n in range(1, 8))
    passages = list(chunk(record(text)))
    assert [p.text.count("Sentence") for p in passages] == [3, 3, 1]
    assert passages[0].text == (
        "Sentence number 1 is here. Sentence number 2 is here. Sentence number 3 is here."
    )


def test_long_sentences_start_a_new_passage_but_are_never_cut():
    long_sentence = "A " + "very " * 200 + "long sentence."
    passages = list(chunk(record(f"Short one. {long_sentence} Another."), max_chars=300))
    assert [p.text for p in passages] == ["Short one.", long_sentence, "Another."]


def test_context_goes_into_embedded_text_only():
    (passage,) = chunk(record("USA 76%, Canada 5%", context="Mexico — Economy — Exports - partners"))
    assert passage.text == "USA 76%, Canada 5%"
    assert passage.embed_text == "Mexico — Economy — Exports - partners: USA 76%, Canada 5%"


def test_dedupe_drops_exact_duplicates_after_normalising():
    passages = [
        *chunk(record("Inflation was 4.7% in 2024.", title="Mexico")),
        *chunk(record("inflation  was 4.7% in 2024.", title="Mexico")),
        *chunk(record("Inflation was 4.7% in 2024.", title="Peru")),
    ]
    deduper = Deduper()
    kept = list(deduper.filter(passages))
    assert [p.title for p in kept] == ["Mexico", "Peru"]
    assert deduper.dropped == 1
