"""Retrieval over a store: dense (FAISS) and lexical (BM25) rankings fused into one score.

The service and the evaluation both go through here, so a gain measured by
``aside eval`` is a gain readers get. The fused score is

    (1 - w) * cosine + w * bm25 / (bm25 + s)

with a fixed saturation ``s``: it depends on the query and the passage only,
never on the other results, so a score means the same thing from article to
article and one threshold can be calibrated for all of them.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from index.embedders import Embedder
from index.query import clean_query
from index.records import Passage
from index.store import Store

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["MODES", "Hit", "ResultCache", "Row", "SearchOptions", "search", "search_texts"]

MODES = ("hybrid", "dense", "lexical")

# (passage id, fused score, cosine, saturated BM25): one ranked hit without its passage.
Row = tuple[int, float, float, float]


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


class ResultCache(Protocol):
    """Recent results by (index build id, cleaned text), as rows: the service's is in memory."""

    def get_many(self, build_id: str, texts: Iterable[str]) -> Mapping[str, Sequence[Row]]: ...

    def put_many(self, build_id: str, results: Mapping[str, Sequence[Row]]) -> None: ...


def search(
    store: Store,
    vectors: NDArray[np.float32],
    queries: Sequence[str],
    *,
    k: int,
    options: SearchOptions | None = None,
) -> list[list[Hit]]:
    """The k best passages for each query (its vector and its cleaned text), best first."""
    return _hits(store, _rank(store, vectors, queries, k=k, options=options or SearchOptions()))


def _rank(store: Store, vectors: NDArray[np.float32], queries: Sequence[str], *, k: int,
          options: SearchOptions) -> list[list[Row]]:
    """Each query's k best rows, best first."""
    if options.mode not in MODES:
        raise ValueError(f"unknown search mode {options.mode!r}; expected one of {MODES}")
    if len(vectors) == 0:
        return []
    lexical = store.lexical if options.mode != "dense" else None
    if options.mode == "lexical" and lexical is None:
        raise ValueError(f"{store.directory} has no lexical index; rebuild it")
    depth = max(k, options.candidates)
    if options.mode == "lexical":
        dense_ids = [np.zeros(0, dtype=np.int64)] * len(queries)
        dense_cos = [np.zeros(0, dtype=np.float32)] * len(queries)
    else:
        dense_ids, dense_cos = _dense(store, vectors, depth)
    lexical_scores = (lexical.scores(queries) if lexical is not None
                      else itertools.repeat(None, len(queries)))
    # Per query: the union of both rankings' candidates (dense first) with both scores for each.
    candidates: list[tuple[NDArray[np.int64], NDArray[np.float32], NDArray[np.float32]]] = []
    for ids, cos, all_scores in zip(dense_ids, dense_cos, lexical_scores, strict=True):
        if lexical is None or all_scores is None:
            candidates.append((ids, cos, np.zeros(len(ids), dtype=np.float32)))
            continue
        # Only passages sharing a word score above zero: rank those, not all of them.
        best = np.flatnonzero(all_scores)
        if len(best) > depth:
            best = best[np.argpartition(-all_scores[best], depth)[:depth]]
        union = np.concatenate([ids, np.setdiff1d(lexical.ids[best], ids, assume_unique=True)])
        positions = lexical.positions(union)
        bm25 = np.where(positions >= 0, all_scores[positions], 0.0).astype(np.float32)
        cosines = np.zeros(len(union), dtype=np.float32)
        cosines[:len(ids)] = cos
        candidates.append((union, cosines, bm25))
    if options.mode != "lexical":
        # Passages found by BM25 alone: their cosine from the stored vectors, one read for all.
        missing = [union[len(ids):] for (union, _, _), ids in zip(candidates, dense_ids, strict=True)]
        if sum(len(m) for m in missing):
            stored = store.vectors(np.concatenate(missing))
            offset = 0
            for row, (ids, extra) in enumerate(zip(dense_ids, missing, strict=True)):
                candidates[row][1][len(ids):] = stored[offset:offset + len(extra)] @ vectors[row]
                offset += len(extra)
    return [_fuse(ids, cos, bm25, k, options) for ids, cos, bm25 in candidates]


def _hits(store: Store, ranked: Sequence[Sequence[Row]]) -> list[list[Hit]]:
    """Rows back into hits, their passages read from the store in one go (a row whose passage
    the build no longer has is dropped)."""
    passages = store.passages(pid for rows in ranked for pid, *_ in rows)
    return [
        [Hit(passages[pid], score, cos, lex) for pid, score, cos, lex in rows if pid in passages]
        for rows in ranked
    ]


def _dense(store: Store, vectors: NDArray[np.float32], depth: int
           ) -> tuple[list[NDArray[np.int64]], list[NDArray[np.float32]]]:
    """Each query's dense candidates (ids, cosines), padding dropped."""
    cos_top, ids_top = store.search(vectors, depth)
    keep = ids_top >= 0
    return ([ids_top[r][keep[r]] for r in range(len(ids_top))],
            [cos_top[r][keep[r]] for r in range(len(cos_top))])


def _fuse(ids: NDArray[np.int64], cos: NDArray[np.float32], bm25: NDArray[np.float32], k: int,
          options: SearchOptions) -> list[Row]:
    """The k best candidates by fused score: (id, score, cosine, saturated BM25), best first."""
    cosine, lexical = cos.astype(np.float64), bm25.astype(np.float64)
    saturated = lexical / (lexical + options.saturation)
    if options.mode == "dense":
        score = cosine
    elif options.mode == "lexical":
        score = saturated
    else:
        score = (1 - options.lexical_weight) * cosine + options.lexical_weight * saturated
    # Stable on ties, in candidate order (dense ranking first), like a sort of the union.
    top = np.argsort(-score, kind="stable")[:k]
    return list(zip(ids[top].tolist(), score[top].tolist(), cosine[top].tolist(),
                    saturated[top].tolist(), strict=True))


def search_texts(
    store: Store, embedder: Embedder, texts: Sequence[str], *, k: int,
    options: SearchOptions | None = None, cache: ResultCache | None = None, step: int = 64,
    check: Callable[[], None] = lambda: None, on_embedded: Callable[[], None] = lambda: None,
) -> list[list[Hit]]:
    """Clean, embed and search texts: the k best hits of each, best first, in the texts' order.

    The one retrieval step of the service, ``aside context``, ``aside eval`` and ``aside index
    query``. Each distinct cleaned text is searched once; those the cache holds for this build
    are neither embedded nor searched. The rest are embedded, then searched, ``step`` at a
    time, calling ``check`` after each step (it raises to stop, e.g. over a time budget) and
    ``on_embedded`` between the two stages (for their timings).
    """
    options = options or SearchOptions()
    cleaned = [clean_query(t) for t in texts]
    distinct = list(dict.fromkeys(cleaned))
    build_id = store.manifest.build_id
    rows = dict(cache.get_many(build_id, distinct)) if cache is not None else {}
    fresh = [t for t in distinct if t not in rows]
    steps = [fresh[i:i + step] for i in range(0, len(fresh), step)]
    vectors = []
    for batch in steps:
        vectors.append(embedder.encode(batch))
        check()
    on_embedded()
    found: dict[str, Sequence[Row]] = {}
    for batch, batch_vectors in zip(steps, vectors, strict=True):
        found.update(zip(batch, _rank(store, batch_vectors, batch, k=k, options=options), strict=True))
        check()
    if cache is not None and found:
        cache.put_many(build_id, found)
    rows.update(found)
    return _hits(store, [rows[t] for t in cleaned])
