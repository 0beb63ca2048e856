from __future__ import annotations

import json

import numpy as np
import pytest

from index.records import Passage
from index.search import Hit
from server.pipeline.article import read_article
from server.pipeline.names import name_of
from server.pipeline.rescore import DEFAULT_MODEL, FEATURES, Rescorer, feature_rows, subject_of

COUNTRIES = {"Somalia": (name_of("Somalia"), name_of("Somali"), name_of("Somalis")),
             "Mozambique": (name_of("Mozambique"), name_of("Mozambican"))}


def hit(kind: str, title: str, text: str, score: float = 0.5, doc: str | None = None) -> Hit:
    passage = Passage(doc_id=doc or f"{kind}:{title}", text=text, embed_text=text, source=kind, kind=kind,
                      title=title, id=abs(hash(title)) % 10_000)
    return Hit(passage, score, dense=score, lexical=0.1)


def features(sentence: str, hits, title: str = "", article=()) -> list[dict[str, float]]:
    rows = feature_rows(sentence, hits, read_article(title, [*article, sentence]), COUNTRIES)
    return [dict(zip(FEATURES, row, strict=True)) for row in rows]


def test_a_country_named_by_its_demonym_is_the_sentence_subject():
    somalia = hit("factbook", "Somalia — Background", "Somalia has been unstable since 1991.",
                  doc="factbook:so:Introduction/Background")
    mozambique = hit("factbook", "Mozambique — Background", "Mozambique faces an insurgency.",
                     doc="factbook:mz:Introduction/Background")
    row_so, row_mz = features("Somali troops attacked the town on Tuesday, officials said.",
                              [somalia, mozambique])
    assert row_so["subject_in_sentence"] == 1.0 and row_mz["subject_in_sentence"] == 0.0
    assert row_so["factbook"] == row_so["fb_background"] == 1.0


def test_the_article_title_and_repeated_names_disambiguate():
    tunisia_article = ["Gunmen attacked a beach resort in Tunisia.", "Tunisia declared an emergency."]
    row = features("The attack killed 38 tourists.", [hit("wikipedia", "Tunisia", "Tunisia is a country.")],
                   title="Gunmen kill tourists at Tunisian resort", article=tunisia_article)[0]
    assert row["subject_in_sentence"] == 0.0
    assert row["subject_salience"] == pytest.approx(2 / 3)
    assert row["subject_in_lead"] == 1.0


def test_names_and_numbers_shared_with_the_passage():
    row = features("Denali, in Alaska, rises 20,310 feet.",
                   [hit("wikipedia", "Denali", "Denali in Alaska has a summit of 20,310 feet.")])[0]
    assert row["names_covered"] == 1.0 and row["shared_number"] == 1.0 and row["sentence_number"] == 1.0
    assert row["subject_in_sentence"] == 1.0


def _model(**coef: float) -> Rescorer:
    return Rescorer.from_dict({
        "format": 1, "features": list(FEATURES), "mean": [0.0] * len(FEATURES),
        "scale": [1.0] * len(FEATURES), "coef": [coef.get(f, 0.0) for f in FEATURES], "intercept": -1.0,
        "kinds": ["factbook", "wikipedia"], "floor": 0.4, "candidates": 3, "min_confidence": 0.5,
    })


def test_the_model_prefers_the_sentence_own_subject_and_leaves_fact_checks_unscored():
    model = _model(subject_in_sentence=4.0)
    comic = hit("wikipedia", "Peanuts", "Peanuts is a comic strip.", 0.60)
    allergy = hit("wikipedia", "Peanut allergy", "Peanut allergy is a food allergy.", 0.55)
    claim = hit("fact-check", "Do peanuts cure allergies?", "Peanuts cure allergies.", 0.58)
    low = hit("wikipedia", "Legume", "Legumes are plants.", 0.30)
    article = read_article("Allergy study", ["A study of Peanut Allergy in children."])
    found = model.rescore("A study of Peanut Allergy in children.", [comic, allergy, claim, low], article)
    by_title = {c.hit.passage.title: c for c in found}
    assert "Legume" not in by_title, "under the floor"
    assert by_title["Do peanuts cure allergies?"].confidence is None
    assert by_title["Peanut allergy"].confidence > 0.9 > 0.5 > by_title["Peanuts"].confidence


def test_probabilities_follow_the_logistic_model():
    model = _model(score=2.0)
    rows = np.zeros((2, len(FEATURES)))
    rows[1, FEATURES.index("score")] = 0.5
    assert model.predict(rows) == pytest.approx([1 / (1 + np.exp(1.0)), 0.5])


def test_the_shipped_model_loads_and_says_what_it_was_fitted_on():
    model = Rescorer.load(DEFAULT_MODEL)
    assert model.features == FEATURES[:len(model.features)]
    assert 0.0 < model.min_confidence < 1.0
    assert model.meta["cv"]["split"] == "by article" and model.meta["rows"] > 500
    assert {"factbook", "wikipedia"} <= model.kinds


def test_a_model_file_that_cannot_be_used_is_a_clear_error(tmp_path):
    broken = tmp_path / "m.json"
    broken.write_text("{not json")
    with pytest.raises(ValueError, match="cannot read the rescoring model"):
        Rescorer.load(broken)
    broken.write_text(json.dumps({"format": 99}))
    with pytest.raises(ValueError, match="format 99"):
        Rescorer.load(broken)
    with pytest.raises(ValueError, match="cannot read"):
        Rescorer.load(tmp_path / "missing.json")


def test_subjects_of_passages():
    assert subject_of(hit("factbook", "Somalia — Background", "x"), COUNTRIES) == COUNTRIES["Somalia"]
    assert subject_of(hit("wikipedia", "Mercury (planet)", "x"), COUNTRIES) == (("mercury",),)
