from __future__ import annotations

from dataclasses import asdict

from index.chunk import Deduper, chunk
from index.records import SourceRecord, provenance_of

FACT_CHECK = dict(kind="fact-check", title="No, the toll did not triple", url="https://fc.example/t",
                  publisher="Example Fact Check", published="2024-03-02", language="en",
                  license="CC BY 4.0", claimant="Jane Poster", rating="False")


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


def test_every_passage_carries_its_records_provenance_whole():
    record = SourceRecord(doc_id="d1", text="One sentence. " * 4, source="test", **FACT_CHECK)
    passages = list(chunk(record, max_sentences=2))
    assert len(passages) == 2
    assert all(provenance_of(p) == FACT_CHECK for p in passages)


def test_a_records_json_is_flat_so_documents_keep_their_hashes():
    # A build hashes this JSON to tell a changed document from an unchanged one: nesting the
    # provenance would make an update re-read and re-embed every document of an older store.
    record = SourceRecord(doc_id="d1", text="T.", source="test", context="C", **FACT_CHECK)
    assert asdict(record) == {"doc_id": "d1", "text": "T.", "source": "test", "context": "C",
                              **FACT_CHECK}


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
