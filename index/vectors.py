"""The FAISS index of a store: exact search while it is small, IVF once it is large.

A flat (exact) index compares every query with every vector: 40 queries over
36,000 vectors take ~13 ms here, but the cost grows with the index. Past
``IVF_MIN_PASSAGES`` the builder makes an IVF index (``IndexIVFFlat``: the
vectors themselves, grouped into ``nlist`` clusters; a query visits ``nprobe``
of them) and picks the smallest ``nprobe`` whose recall@10 against exact
search, measured at build time, reaches ``TARGET_RECALL``. The choice and the
measured recall are written to the manifest.

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
TARGET_RECALL = 0.97
_RECALL_QUERIES = 500
# A recall query is a stored vector plus random noise, this close to it. Random noise makes
# easier queries than real ones at the same cosine: on a 207,000-passage index, real queries
# (CheckThat! tweets, SciFact and LIAR claims) had recall@10 0.953 at nprobe 64 and 0.976 at
# 128; noisy copies at cosine 0.4 gave 0.955 and 0.977, at 0.75 they gave 0.983 and 0.991.
_QUERY_COSINE = 0.4
_TRAIN_PER_LIST = 64
_SEED = 1234


@dataclass(frozen=True)
class IndexInfo:
    """What the manifest records about the vector index."""

    type: str = "flat"
    nlist: int | None = None
    nprobe: int | None = None
    recall_at_10: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> IndexInfo:
        return cls(**{k: raw[k] for k in ("type", "nlist", "nprobe", "recall_at_10") if k in raw})


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
    nlist = nlist or max(1, min(int(4 * math.sqrt(n)), n // 39))
    started = time.perf_counter()
    quantizer = faiss.IndexFlatIP(dim)
    ivf = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    ivf.cp.seed = _SEED
    rng = np.random.default_rng(_SEED)
    sample = vectors[rng.choice(n, size=min(n, nlist * _TRAIN_PER_LIST), replace=False)]
    ivf.train(sample)
    ivf.add_with_ids(vectors, ids)
    # Hit vectors are read back by id (cosine of a BM25-only hit): keep an id -> slot map.
    ivf.set_direct_map_type(faiss.DirectMap.Hashtable)  # type: ignore[attr-defined]
    nprobe, recall = _tune_nprobe(ivf, vectors, ids, rng)
    ivf.nprobe = nprobe
    logger.info(
        "IVF index: %d vectors in %d lists, nprobe %d, recall@10 %.3f against exact search, %.1fs",
        n, nlist, nprobe, recall, time.perf_counter() - started,
    )
    return ivf, IndexInfo("ivf", nlist, nprobe, round(recall, 4))


def _tune_nprobe(
    ivf: Any, vectors: NDArray[np.float32], ids: NDArray[np.int64], rng: np.random.Generator
) -> tuple[int, float]:
    """The smallest nprobe reaching TARGET_RECALL (or all lists), and its recall@10.

    Queries are noisy copies of stored vectors (see _QUERY_COSINE), so a query's
    own vector does not make recall look better than it is; the truth is exact
    search over all vectors.
    """
    n, dim = vectors.shape
    picks = rng.choice(n, size=min(n, _RECALL_QUERIES), replace=False)
    sigma = math.sqrt(1 / _QUERY_COSINE**2 - 1) / math.sqrt(dim)
    queries = vectors[picks] + rng.normal(0, sigma, size=(len(picks), dim)).astype(np.float32)
    faiss.normalize_L2(queries)
    k = min(10, n)
    exact = faiss.IndexFlatIP(dim)
    exact.add(vectors)
    _, truth_pos = exact.search(queries, k)
    truth = [set(ids[row].tolist()) for row in truth_pos]
    # Powers of two and the steps half way between them: 1, 2, 3, 4, 6, 8, 12, 16, 24, ...
    steps = sorted({min(ivf.nlist, s) for p in range(16) for s in (2**p, 3 * 2**p // 2)} - {0})
    for nprobe in steps:
        ivf.nprobe = nprobe
        _, found = ivf.search(queries, k)
        hits = sum(len(set(row.tolist()) & t) for row, t in zip(found, truth, strict=True))
        recall = hits / sum(len(t) for t in truth)
        if recall >= TARGET_RECALL:
            break
    return nprobe, recall



def load_index(path: Path, info: IndexInfo) -> Any:
    """Read a store's index memory-mapped, with the search settings the builder chose."""
    index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC)
    if info.type == "ivf" and info.nprobe:
        faiss.extract_index_ivf(index).nprobe = info.nprobe
    return index
