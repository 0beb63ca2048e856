"""The card contract: a passage's provenance reaches the card's flat JSON, which the OpenAPI
description states exactly (no field missing, none extra)."""

from __future__ import annotations

from dataclasses import fields
from typing import get_type_hints

import pytest

from index.records import Passage, Provenance, passage_hash
from index.search import Hit
from server.openapi import describe
from server.pipeline.rank import to_card
from server.schema import Card, Sentence, Source, sentence_dict

CONFIG = {"MAX_BLOCKS": 20, "MAX_BLOCK_CHARS": 2000, "API_KEYS": "", "API_KEYS_FILE": "", "METRICS": False}
FACT_CHECK = Passage(
    id=7, doc_id="claimreview:https://fc.example/1", text="The bridge toll tripled last year.",
    embed_text="Toll: The bridge toll tripled last year.", source="claimreview:fc.json",
    kind="fact-check", title="No, the bridge toll did not triple", url="https://fc.example/1",
    publisher="Example Fact Check", published="2024-03-02", language="en", license="CC BY 4.0",
    claimant="Jane Poster", rating="False",
)
MIRROR = Passage(id=9, doc_id="mirror:1", text=FACT_CHECK.text, embed_text=FACT_CHECK.text,
                 source="mirror", kind="article", url="https://mirror.example/1", publisher="Mirror")


def test_a_card_shows_its_passages_provenance_as_flat_json():
    card = to_card(Hit(FACT_CHECK, 0.812345), also=[Hit(MIRROR, 0.8)],
                   query="The bridge toll tripled last year.")
    body = card.to_dict()
    assert body == {
        "id": "7", "text": "The bridge toll tripled last year.",
        "title": "No, the bridge toll did not triple", "url": "https://fc.example/1",
        "publisher": "Example Fact Check", "published": "2024-03-02", "kind": "fact-check",
        "license": "CC BY 4.0", "score": 0.8123,
        "sources": (
            {"publisher": "Example Fact Check", "title": "No, the bridge toll did not triple",
             "url": "https://fc.example/1", "published": "2024-03-02"},
            # Without a title of its own, a source is named by its publisher.
            {"publisher": "Mirror", "title": "Mirror", "url": "https://mirror.example/1",
             "published": None},
        ),
        "claimant": "Jane Poster", "rating": "False", "confidence": None,
        "snippet": "The bridge toll tripled last year.", "section": None,
        "doc_id": "claimreview:https://fc.example/1",
        "passage_hash": passage_hash("The bridge toll tripled last year."),
        "category": "fact-check",
        # Why it matched: the passage's words the sentence shares, stopwords left out.
        "matched": ("bridge", "toll", "tripled", "last", "year"),
    }
    assert list(body) == [f.name for f in fields(Card)], "keys in the order the service sends them"


def test_a_card_shows_every_provenance_field_but_the_language():
    # A field added to Provenance must be added to Card (or shown nowhere, as the language).
    provenance = get_type_hints(Provenance)
    card = get_type_hints(Card)
    assert {name for name in provenance if name in card} == set(provenance) - {"language"}
    assert {name: card[name] for name in set(provenance) - {"language"}} == {
        name: hint for name, hint in provenance.items() if name != "language"}
    source = get_type_hints(Source)
    assert set(source) <= set(provenance)
    assert all(source[name] == provenance[name] for name in source)


@pytest.mark.parametrize("record", [Card, Source])
def test_the_openapi_schema_is_exactly_the_dataclass(record):
    schema = describe(CONFIG)["components"]["schemas"][record.__name__]
    names = [f.name for f in fields(record)]
    assert list(schema["properties"]) == names and schema["required"] == names
    assert schema["additionalProperties"] is False
    assert schema["properties"]["title"] == {"type": ["string", "null"]}
    if record is Card:
        assert schema["properties"]["score"] == {"type": "number"}
        assert schema["properties"]["confidence"] == {"type": ["number", "null"]}
        assert schema["properties"]["sources"] == {
            "type": "array", "items": {"$ref": "#/components/schemas/Source"}}


def test_the_openapi_sentence_schema_names_exactly_what_an_answer_sends():
    sentence = Sentence("p1", 0, 6, "Bridge", "", "", 0, 6)
    body = sentence_dict(sentence, [], sentence_hash="0" * 64, vector="AAAA")
    schema = describe(CONFIG)["components"]["schemas"]["Sentence"]
    assert set(schema["properties"]) == set(body) and set(schema["required"]) == set(body)
    # Null when the service takes no feedback.
    assert schema["properties"]["vector"]["type"] == ["string", "null"]
    assert sentence_dict(sentence, [])["vector"] is None
