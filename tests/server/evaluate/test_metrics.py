from __future__ import annotations

import math

import pytest

from server.evaluate import metrics
from server.evaluate.runner import threshold_curve


def test_average_precision_as_checkthat_scores_it():
    assert metrics.average_precision(["a", "b", "c"], {"b": 1}, 5) == 0.5
    assert metrics.average_precision(["a", "b", "c"], {"a": 1, "c": 1}, 5) == pytest.approx((1 + 2 / 3) / 2)
    assert metrics.average_precision(["x"] * 5 + ["b"], {"b": 1}, 5) == 0.0


def test_rank_metrics():
    assert metrics.reciprocal_rank(["a", "b"], {"b": 1}) == 0.5
    assert metrics.precision(["a", "b"], {"a": 1}, 1) == 1.0
    assert metrics.recall(["a", "b", "c"], {"c": 1, "z": 1}, 3) == 0.5
    ideal = metrics.ndcg(["a", "b"], {"a": 1, "b": 1}, 10)
    assert ideal == pytest.approx(1.0)
    assert metrics.ndcg(["x", "a"], {"a": 1}, 10) == pytest.approx(1 / math.log2(3))


def test_threshold_curve_counts_false_context_and_kept():
    run = {"q1": [("gold1", 0.9), ("other", 0.5)], "q2": [("other", 0.7), ("gold2", 0.6)]}
    qrels = {"q1": {"gold1": 1}, "q2": {"gold2": 1}}
    rows = {r["threshold"]: r for r in threshold_curve(run, qrels, thresholds=(0.4, 0.6, 0.8))}
    assert rows[0.4] == {"threshold": 0.4, "false_context": 1.0, "kept": 0.5}
    assert rows[0.6] == {"threshold": 0.6, "false_context": 0.5, "kept": 0.5}
    assert rows[0.8] == {"threshold": 0.8, "false_context": 0.0, "kept": 0.5}
