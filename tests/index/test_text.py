from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from index.text import normalise_whitespace, split_sentences, text_hash


def sentences(text: str, language: str = "en") -> list[str]:
    return [text[s.start : s.end] for s in split_sentences(text, language)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "The U.S. imposed a 25.5% tariff on Jan. 3. Dr. Smith called it unfair.",
            ["The U.S. imposed a 25.5% tariff on Jan. 3.", "Dr. Smith called it unfair."],
        ),
        (
            'He said: "We will win." Then he left... The vote is on Feb. 4, 2025.',
            ['He said: "We will win."', "Then he left...", "The vote is on Feb. 4, 2025."],
        ),
        (
            "Prices rose 3.2% in March.  What happens next?  Nobody knows!",
            ["Prices rose 3.2% in March.", "What happens next?", "Nobody knows!"],
        ),
        ("Mr. Lopez, 54, lives in Mexico City.", ["Mr. Lopez, 54, lives in Mexico City."]),
        ("", []),
        ("   \n ", []),
    ],
)
def test_split_sentences_handles_abbreviations_numbers_quotes(text, expected):
    assert sentences(text) == expected


def test_repeated_sentences_get_their_own_offsets():
    text = "Tariffs rose. Tariffs rose. Tariffs rose."
    spans = split_sentences(text)
    assert [(s.start, s.end) for s in spans] == [(0, 13), (14, 27), (28, 41)]


_alphabet = st.sampled_from(list("abcXYZ .?!\"'…%5,\n\t") + ["U.S.", "Dr. ", "25.5%", "é", "“", "”"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_alphabet, max_size=80).map("".join))
def test_spans_are_ordered_trimmed_and_cover_all_text(text):
    spans = split_sentences(text)
    cursor = 0
    for span in spans:
        piece = text[span.start : span.end]
        assert piece == piece.strip() and piece
        assert span.start >= cursor
        # Nothing but whitespace is lost between sentences.
        assert not text[cursor : span.start].strip()
        cursor = span.end
    assert not text[cursor:].strip()


def test_other_languages_use_their_rules():
    text = "M. Dupont est arrivé à Paris. Il a dit bonjour."
    assert sentences(text, "fr") == ["M. Dupont est arrivé à Paris.", "Il a dit bonjour."]
    assert sentences("Hola. Adiós.", "xx") == ["Hola.", "Adiós."]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # An ellipsis alone is not a sentence: it joins what it introduces.
        ("...Secret documents reveal it. And more.", ["...Secret documents reveal it.", "And more."]),
        # A piece in lower case continues the sentence before it.
        ("What the facts say is ...the best scenario. Next one.",
         ["What the facts say is ...the best scenario.", "Next one."]),
        # A title does not end a sentence, wherever it stands.
        ("Mr. Smith said so. Yes.", ["Mr. Smith said so.", "Yes."]),
        ("Le maire, M. Dupont, est arrivé. Oui.", ["Le maire, M. Dupont, est arrivé.", "Oui."]),
        ("Ask them. M. Dupont knows.", ["Ask them.", "M. Dupont knows."]),
    ],
)
def test_pieces_that_are_not_sentences_are_joined(text, expected):
    assert sentences(text, "fr" if "Dupont" in text else "en") == expected


def test_normalisation_and_hash_ignore_spacing_and_case():
    assert normalise_whitespace(" a\u00a0 b\n\tc ") == "a b c"
    assert text_hash("Mexico  City") == text_hash("mexico city")
    assert text_hash("Mexico City") != text_hash("Mexico")


def test_splitting_is_safe_across_threads():
    from concurrent.futures import ThreadPoolExecutor

    texts = [
        " ".join(f"Sentence {n} of text {t} mentions the U.S. economy." for n in range(t % 7 + 3))
        for t in range(40)
    ]
    expected = [len(split_sentences(t)) for t in texts]
    with ThreadPoolExecutor(8) as pool:
        for _ in range(5):
            assert list(pool.map(lambda t: len(split_sentences(t)), texts)) == expected


@pytest.mark.parametrize("space", ["\xa0", "\u2009", "\u3000", "\u202f", "\u2028"])
def test_spaces_outside_ascii_never_break_the_splitter(space):
    # sentencex 1.0.32 panicked (a Rust slice inside the character) on "A\r\xa0.".
    text = f"A\r{space}. The minister resigned{space}on Monday. Talks went on."
    spans = split_sentences(text)
    assert [text[s.start:s.end] for s in spans][-2:] == [f"The minister resigned{space}on Monday.",
                                                        "Talks went on."]


@pytest.mark.parametrize(
    ("language", "text", "expected"),
    [
        # "p.m." ends in "m", but it is not the French title "M.": the sentence ends there.
        ("es", "La sesión acabó a las 11 p.m. Mañana sigue el debate.",
         ["La sesión acabó a las 11 p.m.", "Mañana sigue el debate."]),
        ("es", "Habló el Sr. García. Luego votaron.", ["Habló el Sr. García.", "Luego votaron."]),
        # The rest of a dotted abbreviation is never a sentence of its own, in any language.
        ("fr", "Le sénateur Jean Roe, D-N.Y., a voté. Il est parti.",
         ["Le sénateur Jean Roe, D-N.Y., a voté.", "Il est parti."]),
        ("en", "Rep. Lea Moss, D-N.H., voted no. Rep. Kurt Dahl did not.",
         ["Rep. Lea Moss, D-N.H., voted no.", "Rep. Kurt Dahl did not."]),
    ],
)
def test_titles_and_dotted_abbreviations_in_any_language(language, text, expected):
    assert sentences(text, language) == expected


@pytest.mark.parametrize(
    "text",
    [
        # Inside a quotation or a parenthesis an abbreviation never ends the sentence.
        '"We moved to the U.S. Then we moved back," she said.',
        "The firm (it moved to the U.S. Last year it moved back) is hiring.",
    ],
)
def test_no_split_inside_quotes_or_parentheses(text):
    assert sentences(text) == [text]


_news_alphabet = st.sampled_from(
    [" ", "  ", "\n", "The", "officials", "Mr.", "U.S.", "N.Y.", "D-", ",", "a.m.", "P.M.", "Sr.",
     "Inc.", "Jan.", "Thurs.", "No.", "etc.", "J.", "I.", "…", "...", ". . .", "(", ")", '"', "“",
     "”", "[", "]", "9", "at", "the", "St.", "10", ".", "?", "é"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_news_alphabet, max_size=60).map("".join))
def test_english_repairs_keep_spans_ordered_and_covering(text):
    cursor = 0
    for span in split_sentences(text, "en"):
        piece = text[span.start : span.end]
        assert piece == piece.strip() and piece
        assert span.start >= cursor and not text[cursor : span.start].strip()
        cursor = span.end
    assert not text[cursor:].strip()
