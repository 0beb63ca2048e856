from __future__ import annotations

import pytest

from index.query import clean_query


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        (
            "Republicans in Illinois don't want the child of a single mother to get a birth "
            "certificate. Unbelievable. https://t.co/yoEOL6vXBm — Paul Wilczynski "
            "(@PaulWilczynski) February 25, 2016",
            "Republicans in Illinois don't want the child of a single mother to get a birth "
            "certificate. Unbelievable.",
        ),
        (
            "OREO x LADY GAGA packs drop today! 🎤🎶 pic.twitter.com/OPdkueC45h — OREO Cookie "
            "(@Oreo) January 28, 2021",
            "OREO x LADY GAGA packs drop today!",
        ),
        ("RT @CNN: Fentanyl seizures rose 50% #breaking &amp; more. Read more:",
         "Fentanyl seizures rose 50% breaking & more."),
        ("Thanks @POTUS for the 👍 www.example.com/x", "Thanks POTUS for the"),
    ],
)
def test_links_handles_tails_emoji_and_boilerplate_go(raw, clean):
    assert clean_query(raw) == clean


def test_news_sentences_are_left_alone():
    sentence = "Mexico exports 76% of its goods to the U.S. — officials said on Monday."
    assert clean_query(sentence) == sentence


def test_a_post_that_is_only_a_link_is_searched_as_it_came():
    assert clean_query("https://t.co/x ") == "https://t.co/x"
