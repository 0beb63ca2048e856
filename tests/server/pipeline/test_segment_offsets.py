"""UTF-16 offsets: what a JavaScript client slices with, beside the code-point offsets."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.pipeline.segment import segment, utf16_length
from server.schema import Block, sentence_dict

FLAGS = "\U0001f1f2\U0001f1fd\U0001f1e8\U0001f1e6"  # two regional-indicator flags
FAMILY = "\U0001f469\u200d\U0001f469\u200d\U0001f466"  # a ZWJ family sequence
THUMB = "\U0001f44d\U0001f3fe"  # thumbs up with a skin tone modifier
BOLD = "\U0001d40d\U0001d404\U0001d416\U0001d412"  # mathematical bold letters


def js_slice(text: str, start: int, end: int) -> str:
    """What JavaScript's ``text.slice(start, end)`` returns: indices are UTF-16 code units."""
    return text.encode("utf-16-le", "surrogatepass")[2 * start : 2 * end].decode(
        "utf-16-le", "surrogatepass")


def sentences(text: str) -> list:
    return [s for s, _ in segment([Block("b", text)])]


@pytest.mark.parametrize("astral", [FLAGS, FAMILY, THUMB, BOLD])
def test_a_javascript_slice_gives_exact_after_astral_characters(astral):
    text = f"{astral} Ferries to Isla Corva run twice a day. The port employs 840 people."
    first, second = sentences(text)
    assert first.exact.startswith(astral) and second.exact == "The port employs 840 people."
    # Code points for Python, code units for JavaScript: they part after the astral text.
    assert text[second.start : second.end] == second.exact
    assert js_slice(text, second.start_utf16, second.end_utf16) == second.exact
    assert js_slice(text, second.start, second.end) != second.exact
    assert second.start_utf16 - second.start == len(astral.encode("utf-16-le")) // 2 - len(astral)
    assert (first.start_utf16, js_slice(text, first.start_utf16, first.end_utf16)) == (0, first.exact)


def test_astral_characters_at_the_end_of_a_block_and_between_sentences():
    text = f"Lanterns lit the old harbour wall. {BOLD} Crowds stayed until midnight. {THUMB}{FAMILY}"
    found = sentences(text)
    assert found[0].start_utf16 == found[0].start == 0
    for sentence in found:
        assert js_slice(text, sentence.start_utf16, sentence.end_utf16) == sentence.exact
    assert found[-1].end_utf16 == utf16_length(text.rstrip()) == len(text.encode("utf-16-le")) // 2
    assert found[-1].exact.endswith(FAMILY)


def test_bmp_only_text_has_equal_offsets_in_both_units():
    text = "Café owners in Nördlingen said — as ever — that prices rose 4 %. Trade fell."
    for sentence in sentences(text):
        assert (sentence.start_utf16, sentence.end_utf16) == (sentence.start, sentence.end)


def test_a_lone_surrogate_counts_one_unit_and_does_not_raise():
    assert utf16_length("a\ud83cb") == 3
    assert utf16_length(FLAGS) == 8 and utf16_length("") == 0
    text = "A broken \ud83c emoji here. The mill closed in 1998 after a long strike."
    for sentence in sentences(text):
        assert js_slice(text, sentence.start_utf16, sentence.end_utf16) == sentence.exact


def test_the_wire_shape_carries_both_offsets():
    text = f"{FLAGS} The bridge toll is two euros per crossing, officials said."
    (sentence,) = sentences(text)
    wire = json.loads(json.dumps(sentence_dict(sentence, [])))
    assert wire["start"] == 0 and wire["end"] == len(text)
    assert (wire["start_utf16"], wire["end_utf16"]) == (0, len(text) + 4)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(codec="utf-8"), max_size=80), min_size=1, max_size=3),
       st.lists(st.sampled_from([FLAGS, FAMILY, THUMB, BOLD, " ", ". ", "x"]), max_size=6))
def test_utf16_offsets_slice_exact_on_any_text(texts, astral):
    blocks = [Block(f"b{n}", "".join(astral) + t + "".join(reversed(astral))) for n, t in enumerate(texts)]
    by_id = {b.id: b.text for b in blocks}
    for sentence, _ in segment(blocks):
        text = by_id[sentence.block]
        assert js_slice(text, sentence.start_utf16, sentence.end_utf16) == sentence.exact
        assert sentence.start_utf16 == utf16_length(text[: sentence.start])
