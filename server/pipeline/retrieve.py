"""Stage 2, clean, embed and search: an article's checkable sentences in, each one's hits out.

``index.search.search_texts`` does the work, the one retrieval step that ``aside eval`` and
``aside index query`` share, here with the service's cache of recent results (whose rows it
turns back into hits from the build being answered from). This stage adds the article's
lead, embedded once for the rescoring stage and kept in the same cache, and each sentence's
embedding, for the blocks that hold near a reported sentence and for the answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from index.embedders import Embedder
from index.query import clean_query
from index.search import Hit, SearchOptions, search_texts
from index.store import Store
from server.feedback import from_codes, to_codes
from server.pipeline.cache import SearchCache

__all__ = ["Retrieved", "best_per_document", "retrieve"]


@dataclass(frozen=True)
class Retrieved:
    """Each sentence's hits, best first, in the sentences' order; the lead's embedding, if asked.

    ``vectors`` (float32, shape ``(sentences, dim)``) holds each sentence's unit embedding,
    the one it was searched with, as its int8 codes give it back (``server.feedback``): the
    same whether the sentence was embedded now or came from the cache.
    """

    hits: list[list[Hit]]
    vectors: NDArray[np.float32]
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
    lead_vector = cache.get_vector(lead) if cache is not None and lead else None
    with_lead = _LeadFirst(embedder, lead if lead and sentences and lead_vector is None else "")
    hits = search_texts(store, with_lead, sentences, k=k, options=options, cache=cache,
                        step=step, check=check, on_embedded=on_embedded)
    if with_lead.lead:  # from the first run, or alone when every sentence came from the cache
        lead_vector = with_lead.vector if with_lead.vector is not None else embedder.encode([lead])[0]
        if cache is not None:
            cache.put_vector(lead, lead_vector)
    vectors = _sentence_vectors(sentences, with_lead.embedded, embedder, cache)
    return Retrieved(hits, vectors, lead_vector)


def _sentence_vectors(
    sentences: Sequence[str], embedded: dict[str, NDArray[np.float32]], embedder: Embedder,
    cache: SearchCache | None,
) -> NDArray[np.float32]:
    """Each sentence's embedding (that of its cleaned text, which it was searched with): kept
    by the cache, else embedded by this search, else (its results outlived it in the cache)
    embedded now. Returns ``(len(sentences), dim)``.

    The cache keeps them by the sentence's own text, so a sentence seen before is not
    cleaned again (about 70 microseconds a sentence).
    """
    distinct = list(dict.fromkeys(sentences))
    found = cache.get_sentence_vectors(distinct) if cache is not None else {}
    missing = {s: clean_query(s) for s in distinct if s not in found}
    if missing:
        unembedded = list(dict.fromkeys(c for c in missing.values() if c not in embedded))
        if unembedded:
            embedded = {**embedded, **dict(zip(unembedded, embedder.encode(unembedded), strict=True))}
        new = {s: embedded[c] for s, c in missing.items()}
        if cache is not None:
            cache.put_sentence_vectors(new)
        # As the cache gives them back, so an answer is the same whether it came from there.
        found.update({s: from_codes(to_codes(v)) for s, v in new.items()})
    if not sentences:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    return np.stack([found[s] for s in sentences]).astype(np.float32, copy=False)


class _LeadFirst(Embedder):
    """The embedder, with ``lead`` put in front of the first texts it embeds: one run for the
    lead and the first sentences rather than a run of its own (a lone text is padded to a
    whole run: about +60 ms for a 10-sentence article). It keeps what it embedded, by text."""

    def __init__(self, embedder: Embedder, lead: str) -> None:
        self.inner, self.lead = embedder, lead
        self.vector: NDArray[np.float32] | None = None
        self.embedded: dict[str, NDArray[np.float32]] = {}

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dim(self) -> int:
        return self.inner.dim

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> NDArray[np.float32]:
        if not self.lead or self.vector is not None or not texts:
            vectors = self.inner.encode(texts, batch_size=batch_size)
        else:
            both = self.inner.encode([self.lead, *texts], batch_size=batch_size)
            self.vector, vectors = both[0], both[1:]
        self.embedded.update(zip(texts, vectors, strict=True))
        return vectors


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
