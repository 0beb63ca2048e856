"""Quality gate: a fixed, quick subset of a public benchmark with pinned floors.

100 CheckThat! 2020 dev queries against the full collection of 10,375 fact-checks,
through the service's own retrieval path with the real model. A change that makes
the cards worse fails here. Floors sit a little under the measured numbers
(docs/evaluation.md records them); raise them when quality improves.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from server.evaluate import cached_store, evaluate, load_checkthat
from tests.conftest import require_data

pytestmark = pytest.mark.model

QUERIES = 100
# Measured 2026-11-27: aside MAP@5 0.8378, P@1 0.76; dense 0.8012; BM25 0.737.
FLOORS = {
    "aside": {"MAP@5": 0.82, "P@1": 0.74},
    "dense": {"MAP@5": 0.78},
    "bm25": {"MAP@5": 0.72},
}


@pytest.fixture(scope="module")
def result(model, tmp_path_factory):
    data = require_data("checkthat2020_task2", "vclaims.jsonl.gz")
    dataset = load_checkthat(data, "dev")
    judged = sorted(q for q in dataset.queries if dataset.qrels.get(q))[:QUERIES]
    dataset = replace(dataset, queries={q: dataset.queries[q] for q in judged})
    store = cached_store(dataset, model, tmp_path_factory.mktemp("eval"))
    return evaluate(dataset, model, store)


@pytest.mark.parametrize("system", list(FLOORS))
def test_quality_stays_above_its_floors(result, system):
    assert result.queries == QUERIES
    for metric, floor in FLOORS[system].items():
        assert result.scores[system][metric] >= floor, (system, metric, result.scores[system])


def test_fusion_earns_its_place(result):
    assert result.scores["aside"]["MAP@5"] >= result.scores["dense"]["MAP@5"]
    assert result.scores["aside"]["MAP@5"] > result.scores["bm25"]["MAP@5"]
