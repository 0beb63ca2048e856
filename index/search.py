"""Retrieval over a store: query vectors in, ranked passages with cosine scores out.

The service and ``aside index query`` both go through here, so a change to
retrieval is seen the same way by every caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from index.embed import Embedder
from index.records import Passage
from index.store import Store

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["Hit", "search", "search_texts"]


@dataclass(frozen=True)
class Hit:
    """One passage retrieved for one query, with its cosine similarity."""

    passage: Passage
    score: float


def search(store: Store, vectors: NDArray[np.float32], *, k: int) -> list[list[Hit]]:
    """The k best passages for each query vector, best first."""
    if len(vectors) == 0:
        return []
    scores, ids = store.search(vectors, k)
    passages = store.passages(ids.ravel().tolist())
    return [
        [Hit(passages[int(i)], float(s)) for s, i in zip(row_s, row_i, strict=True)
         if int(i) in passages]
        for row_s, row_i in zip(scores, ids, strict=True)
    ]


def search_texts(store: Store, embedder: Embedder, texts: Sequence[str], *, k: int) -> list[list[Hit]]:
    """Embed texts and search them."""
    return search(store, embedder.encode(list(texts)), k=k)
