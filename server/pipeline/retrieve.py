"""Stage 2, clean, embed and search: an article's checkable sentences in, each one's hits out.

``index.search.search_texts`` does the work, the one retrieval step that ``aside eval`` and
``aside index query`` share, here with the service's cache of recent results (whose rows it
turns back into hits from the build being answered from). This stage adds the article's
lead, embedded once for the rescoring stage and kept in the same cache.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from index.embedders import Embedder
from index.search import Hit, SearchOptions, search_texts
from index.store import Store
from server.pipeline.cache import SearchCache

__all__ = ["Retrieved", "best_per_document", "retrieve"]


@dataclass(frozen=True)
class Retrieved:
    """Each sentence's hits, best first, in the sentences' order; the lead's embedding, if asked."""

    hits: list[list[Hit]]
    lead: NDArray[np.float32] | None = None


def retrieve(
    sentences: Sequence[str], embedder: Embedder, store: Store, *, k: int, options: SearchOptions,
    cache: SearchCache | None = None, step: int = 64, check: Callable[[], None] = lambda: None,
    on_embedded: Callable[[], None] = lambda: None, lead: str = "",
) -> Retrieved:
    """The k best hits of each sentence (cleaned first), and the embedding of ``lead`` if any.

    ``step``, ``check`` and ``on_embedded`` are ``search_texts``'s: ``check`` raises to stop
    (over the time budget) and ``on_embedded`` marks the end of embedding (for its timing).
    The lead is embedded only when there are sentences to rescore with it.
    """
    lead_vector = _embed_lead(lead, embedder, cache) if lead and sentences else None
    hits = search_texts(store, embedder, sentences, k=k, options=options, cache=cache, step=step,
                        check=check, on_embedded=on_embedded)
    return Retrieved(hits, lead_vector)


def _embed_lead(lead: str, embedder: Embedder, cache: SearchCache | None) -> NDArray[np.float32]:
    vector = cache.get_vector(lead) if cache is not None else None
    if vector is None:
        vector = embedder.encode([lead])[0]
        if cache is not None:
            cache.put_vector(lead, vector)
    return vector


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
