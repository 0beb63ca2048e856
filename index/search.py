"""Retrieval over a store: dense (FAISS) and lexical (BM25) rankings fused into one score.

The service and the evaluation both go through here, so a gain measured by
``aside eval`` is a gain readers get. The fused score is

    (1 - w) * cosine + w * bm25 / (bm25 + s)

with a fixed saturation ``s``: it depends on the query and the passage only,
never on the other results, so a score means the same thing from article to
article and one threshold can be calibrated for all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from index.embed import Embedder
from index.query import clean_query
from index.records import Passage
from index.store import Store

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["MODES", "Hit", "SearchOptions", "search", "search_texts"]

MODES = ("hybrid", "dense", "lexical")


@dataclass(frozen=True, kw_only=True)
class SearchOptions:
    """How rankings are combined; the defaults were chosen on CheckThat! 2020 dev."""

    mode: str = "hybrid"
    lexical_weight: float = 0.2
    saturation: float = 10.0
    # How many passages each ranking contributes before fusion.
    candidates: int = 50


@dataclass(frozen=True)
class Hit:
    """One passage retrieved for one query: fused score and its two parts."""

    passage: Passage
    score: float
    dense: float = 0.0
    lexical: float = 0.0


def search(
    store: Store,
    vectors: NDArray[np.float32],
    queries: Sequence[str],
    *,
    k: int,
    options: SearchOptions | None = None,
) -> list[list[Hit]]:
    """The k best passages for each query (its vector and its cleaned text), best first."""
    options = options or SearchOptions()
    if options.mode not in MODES:
        raise ValueError(f"unknown search mode {options.mode!r}; expected one of {MODES}")
    if len(vectors) == 0:
        return []
    lexical = store.lexical if options.mode != "dense" else None
    if options.mode == "lexical" and lexical is None:
        raise ValueError(f"{store.directory} has no lexical index; rebuild it")
    depth = max(k, options.candidates)
    top = store.search(vectors, depth) if options.mode != "lexical" else None
    ranked: list[list[tuple[int, float, float, float]]] = []
    for row, query in enumerate(queries):
        dense: dict[int, float] = {}
        if top is not None:
            cos_top, ids_top = top
            dense = {int(i): float(c) for i, c in zip(ids_top[row], cos_top[row], strict=True) if i >= 0}
        bm25: dict[int, float] = {}
        if lexical is not None:
            all_scores = lexical.scores(query)
            # Only passages sharing a word score above zero: rank those, not all of them.
            best = np.flatnonzero(all_scores)
            if len(best) > depth:
                best = best[np.argpartition(-all_scores[best], depth)[:depth]]
            bm25 = {int(lexical.ids[p]): float(all_scores[p]) for p in best}
            for pid in dense.keys() - bm25.keys():
                position = lexical.position(pid)
                bm25[pid] = float(all_scores[position]) if position is not None else 0.0
        missing = [pid for pid in bm25 if pid not in dense]
        if missing and options.mode != "lexical":
            for pid, cos in zip(missing, store.vectors(missing) @ vectors[row], strict=True):
                dense[pid] = float(cos)
        fused = [_fuse(pid, dense.get(pid, 0.0), bm25.get(pid, 0.0), options)
                 for pid in dense.keys() | bm25.keys()]
        ranked.append(sorted(fused, key=lambda t: t[1], reverse=True)[:k])
    passages = store.passages(pid for row in ranked for pid, *_ in row)
    return [
        [Hit(passages[pid], score, cos, lex) for pid, score, cos, lex in row if pid in passages]
        for row in ranked
    ]


def _fuse(pid: int, cos: float, bm25: float, options: SearchOptions) -> tuple[int, float, float, float]:
    saturated = bm25 / (bm25 + options.saturation)
    if options.mode == "dense":
        return pid, cos, cos, saturated
    if options.mode == "lexical":
        return pid, saturated, cos, saturated
    w = options.lexical_weight
    return pid, (1 - w) * cos + w * saturated, cos, saturated


def search_texts(
    store: Store, embedder: Embedder, texts: Sequence[str], *, k: int,
    options: SearchOptions | None = None,
) -> list[list[Hit]]:
    """Clean, embed and search texts."""
    cleaned = [clean_query(t) for t in texts]
    return search(store, embedder.encode(cleaned), cleaned, k=k, options=options)
