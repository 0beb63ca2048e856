"""News-style sentence boundaries against the case set in fixtures/segmentation/en_news.jsonl.

The cases are of the kinds of the Pragmatic Segmenter's English golden rules and
of AP news style (abbreviations that end a sentence or never do, times, states,
initials, ellipses), written for Aside with invented names.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from index.text import split_sentences

CASES_FILE = Path(__file__).resolve().parent.parent / "fixtures" / "segmentation" / "en_news.jsonl"
CASES = [json.loads(line) for line in CASES_FILE.read_text(encoding="utf-8").splitlines() if line]


def test_the_case_set_is_large_and_well_formed():
    assert len(CASES) >= 40
    for case in CASES:
        assert set(case) == {"text", "sentences", "kind"}
        # Every expected sentence is verbatim in the text, in order.
        cursor = 0
        for sentence in case["sentences"]:
            cursor = case["text"].index(sentence, cursor) + len(sentence)


@pytest.mark.parametrize("case", CASES, ids=[f"{n:02d}-{c['kind']}" for n, c in enumerate(CASES)])
def test_news_style_sentences_split_as_an_editor_would(case):
    text = case["text"]
    spans = split_sentences(text, "en")
    assert [text[s.start:s.end] for s in spans] == case["sentences"]


@pytest.mark.parametrize("language", [None, "en", "en-US", "EN_gb"])
def test_english_rules_apply_to_every_english_tag(language):
    text = "Most of the ore went to the U.S. Officials in Lima said exports had doubled."
    spans = split_sentences(text, language)
    assert [text[s.start:s.end] for s in spans] == [
        "Most of the ore went to the U.S.", "Officials in Lima said exports had doubled."]


def test_sentence_final_abbreviations_split_inside_a_long_paragraph():
    # The case file's shape: several news sentences, each pair meeting at an abbreviation.
    text = ("Cargo through the port rose to a record in the U.S. Shippers said demand had held. "
            "The gates opened at 5 a.m. Drivers had waited all night. The union met until 10 P.M. "
            "Its leader said talks would resume. The ship was christened by Admiral Tom Vail Sr. "
            "His granddaughter broke the bottle. Volumes fell to 3,900 boxes… Brokers blamed fog.")
    spans = split_sentences(text, "en")
    assert len(spans) == 10
    assert [text[s.start:s.end] for s in spans][::2] == [
        "Cargo through the port rose to a record in the U.S.", "The gates opened at 5 a.m.",
        "The union met until 10 P.M.", "The ship was christened by Admiral Tom Vail Sr.",
        "Volumes fell to 3,900 boxes…"]
