"""The language step: which articles the model can read, and the notice for the others."""

from __future__ import annotations

import json
import time

import pytest

from server.pipeline.language import (
    LanguageCheck,
    check_language,
    detect,
    load_detector,
    primary_subtag,
)
from tests.conftest import FIXTURES

ENGLISH = LanguageCheck(supported=frozenset({"en"}), detector=load_detector())


def _article(name):
    body = json.loads((FIXTURES / "language" / f"{name}.json").read_text(encoding="utf-8"))
    return [b["text"] for b in body["blocks"]], body.get("lang")


@pytest.mark.parametrize("name, language", [("fr", "fr"), ("de", "de"), ("es", "es")])
def test_an_article_in_another_language_gets_a_notice(name, language):
    texts, declared = _article(name)
    [notice] = check_language(texts, declared, ENGLISH)
    assert notice.code == "language_unsupported" and notice.language == language
    assert f"({language})" in notice.message and "en" in notice.message


def test_an_english_article_with_a_quote_in_french_is_read_as_english():
    texts, declared = _article("en-with-french-quote")
    assert check_language(texts, declared, ENGLISH) == []
    assert detect(texts, None, ENGLISH.detector) == "en", "decided per article, not per paragraph"


def test_text_too_short_to_tell_falls_back_to_the_declared_language():
    assert detect(["Trade tensions"], None, ENGLISH.detector) is None
    assert detect(["Trade tensions"], "fr-CA", ENGLISH.detector) == "fr"
    assert check_language(["Paris, 1937"], None, ENGLISH) == [], "unknown: searched as before"
    # Enough text overrules a wrong declaration (a CMS template's lang="en" on a French page).
    texts, _ = _article("fr")
    assert detect(texts, "en", ENGLISH.detector) == "fr"


def test_other_supported_languages_are_searched():
    texts, declared = _article("de")
    assert check_language(texts, declared, LanguageCheck(supported=frozenset({"en", "de"}),
                                                         detector=ENGLISH.detector)) == []


@pytest.mark.parametrize("tag, primary", [
    ("fr", "fr"), ("FR-fr", "fr"), ("pt_BR", "pt"), (" de ", "de"), ("", None), (None, None),
    ("x", None), ("12", None), ("fr\ufffd", None), ("\u0000", None), ("toolongtag", None),
])
def test_primary_subtag(tag, primary):
    assert primary_subtag(tag) == primary


def test_detection_costs_about_a_millisecond_even_for_a_long_article():
    texts, _ = _article("fr")
    long = texts * 200  # ~70,000 characters: only the first SAMPLE_CHARS are read
    detect(long, None, ENGLISH.detector)
    started = time.perf_counter()
    for _ in range(20):
        detect(long, None, ENGLISH.detector)
    assert (time.perf_counter() - started) / 20 < 0.01  # generous for a loaded CI machine
