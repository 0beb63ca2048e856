"""Run a benchmark through the service's own retrieval path and score it.

1. build (or reuse) an ordinary Aside index of the collection, cached by content and settings;
2. clean, embed and search every query with index.search.search_texts, as /v1/context does;
3. keep the best passage of each document (the service's one-card-per-document rule),
   threshold off, for three systems: BM25 alone, dense alone, and Aside's fusion;
4. score the rankings; for claim retrieval, also the threshold curve.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from index.build import BuildOptions, build
from index.embedders import Embedder
from index.search import SearchOptions, search_texts
from index.sources import Source
from index.store import FORMAT, Store, StoreError
from server.evaluate import metrics
from server.evaluate.datasets import Dataset
from server.pipeline.rank import candidates as unscored

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["SYSTEMS", "EvalResult", "cached_store", "evaluate", "threshold_curve"]

logger = logging.getLogger(__name__)

SYSTEMS = {"bm25": "lexical", "dense": "dense", "aside": "hybrid"}
RUN_DEPTH = 100


@dataclass
class EvalResult:
    dataset: str
    label: str
    queries: int
    documents: int
    scores: dict[str, dict[str, float]]
    runs: dict[str, dict[str, list[tuple[str, float]]]] = field(repr=False)
    curve: list[dict[str, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data.pop("runs")
        return data


def cached_store(dataset: Dataset, embedder: Embedder, cache_dir: Path) -> Store:
    """The dataset's index, built once per collection, model and build settings."""
    options = BuildOptions()
    key = hashlib.sha256(json.dumps(
        [dataset.fingerprint, embedder.name, embedder.dim, FORMAT,
         options.max_sentences, options.max_chars]).encode()).hexdigest()[:12]
    directory = cache_dir / f"{dataset.collection}-{key}"
    try:
        return Store.open(directory, model=embedder.name, dim=embedder.dim)
    except StoreError:
        logger.info("building the %s index in %s", dataset.collection, directory)
    build([Source(dataset.collection, lambda stats: _counted(dataset, stats))], directory, embedder,
          BuildOptions(progress=True))
    return Store.open(directory, model=embedder.name, dim=embedder.dim)


def _counted(dataset: Dataset, stats):  # type: ignore[no-untyped-def]
    for record in dataset.records():
        stats.read += 1
        yield record


def evaluate(
    dataset: Dataset, embedder: Embedder, store: Store, *,
    systems: Sequence[str] = tuple(SYSTEMS), search_options: SearchOptions | None = None,
    curve: bool = False,
) -> EvalResult:
    """Rank every query with each system and score the rankings."""
    base = search_options or SearchOptions()
    qids = sorted(q for q in dataset.queries if dataset.qrels.get(q))
    queries = [dataset.queries[q] for q in qids]
    # Embedded once for the three systems.
    embedder = _Memo(embedder)
    runs: dict[str, dict[str, list[tuple[str, float]]]] = {}
    for system in systems:
        options = replace(base, mode=SYSTEMS[system], candidates=max(base.candidates, dataset.depth))
        found = search_texts(store, embedder, queries, k=dataset.depth, options=options)
        # Threshold off: every document's best passage, best first, as rank() orders cards.
        runs[system] = {
            qid: [(c.hit.passage.doc_id, c.hit.score)
                  for c in unscored(hits, floor=-math.inf)[:RUN_DEPTH]]
            for qid, hits in zip(qids, found, strict=True)
        }
    scores = {system: score_run(run, dataset) for system, run in runs.items()}
    return EvalResult(
        dataset=dataset.name, label=dataset.label, queries=len(qids),
        documents=_document_count(store), scores=scores, runs=runs,
        curve=threshold_curve(runs["aside"], dataset.qrels) if curve and "aside" in runs else [],
    )


class _Memo:
    """An embedder that encodes each text once and then answers from memory."""

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder
        self._vectors: dict[str, NDArray[np.float32]] = {}
        self.name, self.dim = embedder.name, embedder.dim

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> NDArray[np.float32]:
        new = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if new:
            self._vectors.update(zip(new, self._embedder.encode(new, batch_size=batch_size),
                                     strict=True))
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._vectors[t] for t in texts])

    def prepare(self) -> None:
        self._embedder.prepare()


def _document_count(store: Store) -> int:
    return sum(int(source.get("records", 0)) for source in store.manifest.sources)


def score_run(run: dict[str, list[tuple[str, float]]], dataset: Dataset) -> dict[str, float]:
    """The dataset's metrics, averaged over its judged queries."""
    per_metric: dict[str, list[float]] = {m: [] for m in dataset.metrics}
    for qid, ranked in run.items():
        docs = [d for d, _ in ranked]
        relevant = dataset.qrels[qid]
        for name in dataset.metrics:
            kind, _, cut = name.partition("@")
            k = int(cut) if cut else RUN_DEPTH
            value = {
                "MAP": metrics.average_precision, "MRR": metrics.reciprocal_rank,
                "P": metrics.precision, "Recall": metrics.recall, "nDCG": metrics.ndcg,
            }[kind](docs, relevant, k)
            per_metric[name].append(value)
    return {name: round(metrics.mean(values), 4) for name, values in per_metric.items()}


CURVE_THRESHOLDS = tuple(round(0.30 + 0.02 * step, 2) for step in range(31))


def threshold_curve(
    run: dict[str, list[tuple[str, float]]], qrels: dict[str, dict[str, int]],
    thresholds: Sequence[float] = CURVE_THRESHOLDS,
) -> list[dict[str, float]]:
    """False-context and kept rates by threshold.

    false context: with the query's gold documents removed from the index, the
    service still shows a card (the best non-gold score clears the threshold);
    kept: with gold present, the top card is a gold document and clears it.
    """
    rows = []
    for t in thresholds:
        false_context = kept = 0
        for qid, ranked in run.items():
            gold = {d for d, g in qrels[qid].items() if g > 0}
            best_other = next((s for d, s in ranked if d not in gold), -math.inf)
            false_context += best_other >= t
            kept += bool(ranked) and ranked[0][0] in gold and ranked[0][1] >= t
        n = len(run) or 1
        rows.append({"threshold": t, "false_context": round(false_context / n, 4),
                     "kept": round(kept / n, 4)})
    return rows
