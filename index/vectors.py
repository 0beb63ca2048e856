"""The FAISS index of a store: exact search while it is small, IVF once it is large.

A flat (exact) index compares every query with every vector: 40 queries over
36,000 vectors take ~13 ms here, but the cost grows with the index. Past
``IVF_MIN_PASSAGES`` the builder makes an IVF index: the vectors grouped into
``nlist`` clusters, a query visiting ``nprobe`` of them, scanned as 8-bit codes
(``IndexIVFScalarQuantizer``, a quarter of the bytes of the vectors), and the
best ``REFINE_FACTOR`` × k candidates re-scored with the exact vectors
(``IndexRefineFlat``): the codes only choose candidates, and scores are exact
cosines. On a 1,000,000-vector index (4,000 lists, nprobe 128), 40 queries took p50 49 ms
scanning the vectors themselves (``IndexIVFFlat``, the kind earlier builds
made, which still load) and 29 ms scanning codes and re-scoring, with the same
recall@10 (0.957). The builder picks the smallest ``nprobe`` whose recall@10
against exact search, estimated at build time, reaches ``TARGET_RECALL``; the
choice and the estimate are written to the manifest.

Both kinds are loaded memory-mapped (``IO_FLAG_MMAP_IFC``), so gunicorn
workers share one copy of the vectors through the page cache.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import faiss
import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["INDEX_TYPES", "IVF_MIN_PASSAGES", "IndexInfo", "load_index", "make_index"]

logger = logging.getLogger(__name__)

INDEX_TYPES = ("auto", "flat", "ivf")
IVF_MIN_PASSAGES = 100_000
# Estimated recall@10 the builder aims for. The estimate is within about 0.015 of real
# queries' recall on the indexes measured (below), so real recall should stay above 0.95.
TARGET_RECALL = 0.965
_RECALL_QUERIES = 1000
# Two kinds of probe query, and the lower recall of the two counts:
# - a stored vector plus random noise, this close to it;
# - the sum of _MIX stored vectors (a sentence that touches several passages at once,
#   between clusters, where IVF misses most), plus noise to _MIX_COSINE.
# Measured, recall@10 at nprobe 64 / 96 / 128 / 192:
#   207,000 real passages (1,827 lists): real queries 0.956 / 0.971 / 0.979 / 0.988;
#     copies 0.957 / 0.971 / 0.978 / 0.985; mixes 0.937 / 0.955 / 0.968 / 0.980.
#   1,000,000 synthetic (28 noisy copies of each default-index vector; 8,000 lists): real
#     queries 0.931 / 0.950 / 0.962 / 0.970; copies 0.999 / 1.000 / 1.000 / 1.000 (copies
#     alone picked nprobe 12 on 4,000 lists, where real recall was 0.81); mixes 0.936 /
#     0.960 / 0.972 / 0.982. Mixes at cosine 0.6 were 0.959 / 0.974 / 0.980 / 0.987 there:
#     they picked nprobe 96, where real recall was 0.950.
# Real queries: CheckThat! tweets, SciFact and LIAR claims (207k), LIAR and a news article (1M).
_QUERY_COSINE = 0.4
_MIX = 4
_MIX_COSINE = 0.45
_TRAIN_PER_LIST = 64
# Lists per square root of the vector count. On 1,000,000 vectors, recall@10 0.957 (real
# queries) took nprobe 128 either way, but with 8·√n lists (8,000) a visit scans half as many
# codes: 40 queries p50 18 ms, p95 26 ms, against 33 / 38 ms with 4·√n (4,000); training the
# lists took 211 s instead of about 60.
_LISTS_PER_ROOT = 8
# Candidates re-scored with the exact vectors, per result asked for.
REFINE_FACTOR = 4
_SEED = 1234


@dataclass(frozen=True)
class IndexInfo:
    """What the manifest records about the vector index."""

    type: str = "flat"
    nlist: int | None = None
    nprobe: int | None = None
    recall_at_10: float | None = None
    # How an IVF index scans: "sq8" (8-bit codes, re-scored exactly); absent: the vectors.
    codes: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> IndexInfo:
        return cls(**{k: raw[k] for k in ("type", "nlist", "nprobe", "recall_at_10", "codes")
                      if k in raw})


def make_index(
    vectors: NDArray[np.float32], ids: NDArray[np.int64], *, kind: str = "auto",
    nlist: int | None = None,
) -> tuple[Any, IndexInfo]:
    """An inner-product index over unit vectors with the given ids, of the kind asked for."""
    if kind not in INDEX_TYPES:
        raise ValueError(f"unknown index type {kind!r}; expected one of {', '.join(INDEX_TYPES)}")
    n, dim = vectors.shape
    if kind == "flat" or (kind == "auto" and n < IVF_MIN_PASSAGES):
        flat = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        flat.add_with_ids(vectors, ids)
        return flat, IndexInfo()
    nlist = nlist or max(1, min(int(_LISTS_PER_ROOT * math.sqrt(n)), n // 39))
    started = time.perf_counter()
    quantizer = faiss.IndexFlatIP(dim)
    ivf = faiss.IndexIVFScalarQuantizer(quantizer, dim, nlist, faiss.ScalarQuantizer.QT_8bit,
                                        faiss.METRIC_INNER_PRODUCT)
    ivf.cp.seed = _SEED
    rng = np.random.default_rng(_SEED)
    sample = vectors[rng.choice(n, size=min(n, nlist * _TRAIN_PER_LIST), replace=False)]
    ivf.train(sample)
    refined = faiss.IndexRefineFlat(ivf)
    refined.k_factor = REFINE_FACTOR
    # Ids on the outside; hit vectors are read back by id (the cosine of a BM25-only hit)
    # from the exact copy.
    index = faiss.IndexIDMap2(refined)
    index.add_with_ids(vectors, ids)
    nprobe, recall = _tune_nprobe(index, ivf, vectors, ids, rng)
    ivf.nprobe = nprobe
    logger.info(
        "IVF index: %d vectors in %d lists, nprobe %d, recall@10 %.3f against exact search, %.1fs",
        n, nlist, nprobe, recall, time.perf_counter() - started,
    )
    return index, IndexInfo("ivf", nlist, nprobe, round(recall, 4), codes="sq8")


def _tune_nprobe(
    index: Any, ivf: Any, vectors: NDArray[np.float32], ids: NDArray[np.int64], rng: np.random.Generator
) -> tuple[int, float]:
    """The smallest nprobe reaching TARGET_RECALL (or all lists), and its recall@10.

    Probe queries are made from stored vectors (see _QUERY_COSINE and _MIX) but
    are none of them, so a query's own vector does not make recall look better
    than it is; the truth is exact search over all vectors. This is an estimate:
    on the two indexes measured it came within about 0.015 of real queries' recall.
    """
    n, dim = vectors.shape
    count = min(n, _RECALL_QUERIES)
    mixes = sum(vectors[rng.choice(n, size=count, replace=False)] for _ in range(_MIX))
    faiss.normalize_L2(mixes)
    probe_sets = [_noisy(vectors[rng.choice(n, size=count, replace=False)], _QUERY_COSINE, rng),
                  _noisy(mixes, _MIX_COSINE, rng)]
    k = min(10, n)
    exact = faiss.IndexFlatIP(dim)
    exact.add(vectors)
    truths = []
    for queries in probe_sets:
        _, truth_pos = exact.search(queries, k)
        truths.append([set(ids[row].tolist()) for row in truth_pos])
    # Steps of about a quarter: 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, ..., 96, 112, 128, 160, ...
    steps = sorted({min(ivf.nlist, f * 2**p // 4) for p in range(16) for f in (4, 5, 6, 7)} - {0})
    for nprobe in steps:
        ivf.nprobe = nprobe
        recall = min(_recall(index, queries, truth, k)
                     for queries, truth in zip(probe_sets, truths, strict=True))
        if recall >= TARGET_RECALL:
            break
    return nprobe, recall


def _noisy(vectors: NDArray[np.float32], cosine: float, rng: np.random.Generator) -> NDArray[np.float32]:
    """Unit vectors at about ``cosine`` from the given unit vectors, in random directions."""
    sigma = math.sqrt(1 / cosine**2 - 1) / math.sqrt(vectors.shape[1])
    queries = (vectors + rng.normal(0, sigma, size=vectors.shape)).astype(np.float32)
    faiss.normalize_L2(queries)
    return queries


def _recall(index: Any, queries: NDArray[np.float32], truth: list[set[int]], k: int) -> float:
    _, found = index.search(queries, k)
    hits = sum(len(set(row.tolist()) & t) for row, t in zip(found, truth, strict=True))
    return hits / max(1, sum(len(t) for t in truth))


def load_index(path: Path, info: IndexInfo) -> Any:
    """Read a store's index memory-mapped, with the search settings the builder chose."""
    index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC)
    if info.type == "ivf" and info.nprobe:
        faiss.extract_index_ivf(index).nprobe = info.nprobe
    return index
