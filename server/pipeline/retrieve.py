"""Embed and search: cleaned sentences in, each one's hits out, with the recent-results cache.

The one retrieval step that the service, ``aside context`` and ``aside eval`` share. The
cache holds rows (passage id, fused score, cosine, saturated BM25); this module alone turns
them back into hits, reading the passages from the build being answered from.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from index.embed import Embedder
from index.search import Hit, SearchOptions, search
from index.store import Store
from server.pipeline.cache import SearchCache

__all__ = ["Retrieved", "best_per_document", "retrieve"]


@dataclass
class Retrieved:
    """Each distinct text's hits, best first, and the vectors of the texts only embedded."""

    hits: dict[str, list[Hit]]
    vectors: dict[str, NDArray[np.float32]] = field(default_factory=dict)


def retrieve(
    texts: Sequence[str], embedder: Embedder, store: Store, *, k: int, options: SearchOptions,
    cache: SearchCache | None = None, step: int = 64, check: Callable[[], None] = lambda: None,
    on_embedded: Callable[[], None] = lambda: None, embed_also: Sequence[str] = (),
) -> Retrieved:
    """The k best hits of each distinct cleaned text, best first.

    Texts the cache holds (for this build) are neither embedded nor searched. The rest are
    embedded and searched ``step`` at a time, calling ``check`` after each step (it raises
    to stop, e.g. over a time budget); ``on_embedded`` is called between the two stages
    (for their timings). ``embed_also`` are texts to embed with the first step but not to
    search (an article's lead); their vectors come back in ``vectors``.
    """
    distinct = list(dict.fromkeys(texts))
    build_id = store.manifest.build_id
    cached = cache.get_many(build_id, distinct) if cache is not None else {}
    fresh = [t for t in distinct if t not in cached]
    steps = [fresh[i:i + step] for i in range(0, len(fresh), step)]
    extra = list(dict.fromkeys(embed_also))
    also: dict[str, NDArray[np.float32]] = {}
    if extra and not steps:
        also = dict(zip(extra, embedder.encode(extra), strict=True))
    vectors = []
    for number, batch in enumerate(steps):
        if number == 0 and extra:  # one run for the lead and the first sentences
            both = embedder.encode(extra + batch)
            also = dict(zip(extra, both[:len(extra)], strict=True))
            vectors.append(both[len(extra):])
        else:
            vectors.append(embedder.encode(batch))
        check()
    on_embedded()
    found: list[list[Hit]] = []
    for batch, batch_vectors in zip(steps, vectors, strict=True):
        found += search(store, batch_vectors, batch, k=k, options=options)
        check()
    hits = dict(zip(fresh, found, strict=True))
    if cache is not None and hits:
        cache.put_many(build_id, {
            text: [(h.passage.id or 0, h.score, h.dense, h.lexical) for h in found_hits]
            for text, found_hits in hits.items()})
    if cached:
        passages = store.passages(pid for rows in cached.values() for pid, *_ in rows)
        for text, rows in cached.items():
            hits[text] = [Hit(passages[pid], score, dense, lexical)
                          for pid, score, dense, lexical in rows if pid in passages]
    return Retrieved(hits, also)


def best_per_document(hits: Sequence[Hit], *, threshold: float, limit: int) -> list[Hit]:
    """The best hit of each document, scores at or above the threshold, at most limit, best first."""
    kept: list[Hit] = []
    seen_docs: set[str] = set()
    for hit in sorted(hits, key=lambda h: h.score, reverse=True):
        if hit.score < threshold or len(kept) >= limit:
            break
        if hit.passage.doc_id in seen_docs:
            continue
        seen_docs.add(hit.passage.doc_id)
        kept.append(hit)
    return kept
