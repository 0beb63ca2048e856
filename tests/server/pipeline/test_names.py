from __future__ import annotations

import pytest

from server.pipeline.names import match, name_of, names, numbers


@pytest.mark.parametrize(("text", "expected"), [
    # Titles and the function words that open sentences are not names; particles join them.
    ("However, President Barack Obama spoke.", [("barack", "obama")]),
    ("The Islamic Republic of Afghanistan and Osama bin Laden.",
     [("islamic", "republic", "of", "afghanistan"), ("osama", "bin", "laden")]),
    # Abbreviations with periods, accents and hyphens fold to comparable tokens.
    ("Officials in the U.S. praised Hugo Chávez and Kim Jong-un.",
     [("us",), ("hugo", "chavez"), ("kim", "jong", "un")]),
    # A possessive is the name; a title inside a name stays in it; dates never join one.
    ("Sheik Sharif Sheik Ahmed's government met Obama Monday.",
     [("sharif", "sheik", "ahmed"), ("obama",)]),
    ("a lower-case sentence with no names at all.", []),
])
def test_names_are_runs_of_capitalised_words(text, expected):
    assert names(text) == expected


def test_numbers_drop_separators_and_single_digits():
    assert numbers("About 20,310 feet, 3 peaks, 4.5% in 2009.") == {"20310", "4.5", "2009"}


def test_a_mention_matches_a_form_whole_or_by_its_tail():
    chavez = [name_of("Hugo Chávez")]
    assert match(chavez, names("Hugo Chavez sent his wishes.")) == 1.0
    assert match(chavez, names("Chavez sent his wishes.")) == 0.5
    assert match(chavez, names("Fidel Castro sent his wishes.")) == 0.0


def test_a_longer_name_that_contains_the_subject_is_another_thing():
    # "New York Times" is not "The Times"; "Niger" is not "Nigeria".
    assert match([name_of("The Times")], names("A New York Times writer said so.")) == 0.0
    assert match([name_of("Nigeria")], names("Troops crossed into Niger.")) == 0.0


def test_lower_case_words_never_match_a_proper_name():
    # "peanut allergy" is not about Peanuts, the comic strip.
    assert match([name_of("Peanuts")], names("Children with a peanut allergy were studied.")) == 0.0


def test_other_forms_of_a_country_match_it():
    china = [name_of(f) for f in ("China", "People's Republic of China", "PRC", "Chinese")]
    assert match(china, names("Chinese officials declined to comment.")) == 1.0
    assert match(china, names("Officials in Beijing declined to comment.")) == 0.0
