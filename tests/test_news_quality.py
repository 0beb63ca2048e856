"""Quality gate on judged real news: ``aside eval news`` on a slice of the dev set, pinned floors.

The first 12 articles of ``$ASIDE_DATA_DIR/news_dev`` go through the service's pipeline with
the real model and the shipped rescoring model, against an index of the documents their
judged cards came from: the Factbook fields and Wikipedia summaries among those cards, cut
into the default index's passages, so the editors' judgments apply (about 400 passages, built
in seconds). The rescoring model must still tell the helpful cards from the related and wrong
ones among them. Floors sit a little under the measured figures; raise them when the cards
get better.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import pytest
from click.testing import CliRunner

from index.build import build
from index.sources import Source
from index.sources.factbook import iter_factbook
from index.sources.wikipedia import iter_wikipedia
from server.cli import main
from tests.conftest import require_data

pytestmark = pytest.mark.model

ARTICLES = 12
# Measured 2026-11-29 at the default: coverage 1.6% (5 of 305 sentences), precision 100% (7 of 7
# cards), wrong 0%. The shipped model was fitted on these articles among others: this is a gate
# against regressions, not the held-out figure (that is aside eval fit-rescorer's out of fold).
FLOORS = {"coverage": 0.012, "precision": 0.75}
MOST_WRONG = 0.03


def _slice_titles(data: Path) -> tuple[set[str], set[str]]:
    """Factbook titles ("Somalia — Background") and Wikipedia titles of the slice's judged cards."""
    names = sorted(p.stem for p in (data / "articles").glob("*.txt"))[:ARTICLES]
    countries, titles = set(), set()
    for line in (data / "judgments.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["article"] not in names:
            continue
        if row["publisher"] == "CIA World Factbook":
            countries.add(row["card_title"])
        else:
            titles.add(row["card_title"])
    return countries, titles


def _factbook(stats, *, countries):
    return (r for r in iter_factbook(stats) if r.title in countries)


def _wikipedia(stats, *, titles):
    return (r for r in iter_wikipedia(stats) if r.title in titles)


@pytest.fixture(scope="module")
def report(model, tmp_path_factory):
    data = require_data("news_dev", "judgments.jsonl")
    countries, titles = _slice_titles(data)
    index = tmp_path_factory.mktemp("news") / "index"
    build([Source("factbook", partial(_factbook, countries=countries)),
           Source("wikipedia", partial(_wikipedia, titles=titles))], index, model)
    result = CliRunner().invoke(main, ["eval", "news", "--index", str(index), "--data-dir", str(data),
                                       "--articles", str(ARTICLES), "--json"],
                                obj={"embedder": model}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output[result.output.index("{"):])


def test_news_cards_stay_above_their_floors(report):
    default = next(row for row in report["rows"] if row["default"])
    assert default["articles"] == ARTICLES and default["searched"] > 200
    for metric, floor in FLOORS.items():
        assert default[metric] >= floor, (metric, default)
    assert default["wrong_rate"] <= MOST_WRONG, default


def test_rescoring_beats_the_old_score_threshold_on_precision(report):
    # The fused score's old bar (0.62) showed 70% helpful cards on the whole dev set.
    default = next(row for row in report["rows"] if row["default"])
    assert default["precision"] > 0.70
