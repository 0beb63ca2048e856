from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.pipeline.segment import is_checkable, segment
from server.schema import Block


def test_offsets_prefix_and_suffix_anchor_each_sentence():
    text = "Intro words here. The U.S. imposed a 25.5% tariff on Mexican steel on Jan. 3, 2025. Done."
    results = list(segment([Block("b", text)]))
    sentences = [s for s, _ in results]
    assert [s.exact for s in sentences] == [
        "Intro words here.",
        "The U.S. imposed a 25.5% tariff on Mexican steel on Jan. 3, 2025.",
        "Done.",
    ]
    middle = sentences[1]
    assert text[middle.start : middle.end] == middle.exact
    assert middle.prefix == text[: middle.start][-32:]
    assert middle.suffix == text[middle.end :][:32]
    assert [ok for _, ok in results] == [False, True, False]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(min_size=0, max_size=120), min_size=1, max_size=4))
def test_text_start_end_equals_exact_on_any_text(texts):
    blocks = [Block(f"b{n}", t) for n, t in enumerate(texts)]
    by_id = {b.id: b.text for b in blocks}
    for sentence, _ in segment(blocks):
        text = by_id[sentence.block]
        assert text[sentence.start : sentence.end] == sentence.exact
        assert sentence.exact.strip() == sentence.exact != ""
        assert text[: sentence.start].endswith(sentence.prefix) and len(sentence.prefix) <= 32
        assert text[sentence.end :].startswith(sentence.suffix) and len(sentence.suffix) <= 32


@pytest.mark.parametrize(
    ("sentence", "lone", "checkable"),
    [
        ("Mexico exported $680 billion of goods in 2024.", False, True),
        ("Mexico's cartels smuggle fentanyl into the United States", False, True),
        ("Is Mexico the largest trading partner of the US?", False, False),
        ("Trade war with Mexico and Canada escalates", True, False),
        ("It fell.", False, False),
        ('"We will not be bullied by anyone at all."', False, False),
        ('"We will not be bullied," the minister said on Tuesday.', False, True),
        ("“Tariffs are a tax on American families,” she said.", False, True),
    ],
)
def test_what_is_worth_searching(sentence, lone, checkable):
    assert is_checkable(sentence, lone_in_block=lone) is checkable
