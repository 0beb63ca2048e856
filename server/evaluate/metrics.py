"""Ranking metrics over runs {query: [doc ids, best first]} and qrels {query: {doc: grade}}."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

__all__ = ["average_precision", "mean", "ndcg", "precision", "recall", "reciprocal_rank"]


def average_precision(ranking: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """AP@k as CheckThat! scores it: precision at each relevant hit, over the relevant count."""
    found = 0
    total = 0.0
    for position, doc in enumerate(ranking[:k], start=1):
        if relevant.get(doc, 0) > 0:
            found += 1
            total += found / position
    positives = sum(1 for g in relevant.values() if g > 0)
    return total / positives if positives else 0.0


def reciprocal_rank(ranking: Sequence[str], relevant: Mapping[str, int], k: int = 100) -> float:
    for position, doc in enumerate(ranking[:k], start=1):
        if relevant.get(doc, 0) > 0:
            return 1.0 / position
    return 0.0


def precision(ranking: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    return sum(1 for doc in ranking[:k] if relevant.get(doc, 0) > 0) / k


def recall(ranking: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    positives = {d for d, g in relevant.items() if g > 0}
    return len(positives & set(ranking[:k])) / len(positives) if positives else 0.0


def ndcg(ranking: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """nDCG@k with graded gains (BEIR's and trec_eval's linear gain)."""
    dcg = sum(relevant.get(doc, 0) / math.log2(i + 2) for i, doc in enumerate(ranking[:k]))
    ideal = sorted((g for g in relevant.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0
