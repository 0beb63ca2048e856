"""BM25 over the same passages as the vectors (``bm25s``): names and numbers matter in news.

The lexical index lives in the store directory (``bm25/``) beside ``index.faiss``;
``bm25_ids.npy`` maps its document positions to passage ids.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["LEXICAL_DIR", "LEXICAL_IDS", "LexicalIndex", "tokenize", "write_lexical"]

logger = logging.getLogger(__name__)

LEXICAL_DIR = "bm25"
LEXICAL_IDS = "bm25_ids.npy"
_STOPWORDS = "english"


def _bm25s() -> Any:
    import bm25s

    # bm25s sets its logger to DEBUG when imported, which overrides the application's
    # logging setup; let it inherit the configured level again.
    logging.getLogger("bm25s").setLevel(logging.NOTSET)
    return bm25s


def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """Lower-cased, stop-worded, stemmed tokens (the same for documents and queries)."""
    bm25s = _bm25s()

    tokens: list[list[str]] = bm25s.tokenize(
        list(texts), stopwords=_STOPWORDS, stemmer=_stemmer(), return_ids=False, show_progress=False
    )
    return tokens


def write_lexical(directory: Path, ids: Sequence[int], texts: Sequence[str]) -> None:
    """Index texts with BM25 and save the index and its id map into a store directory."""
    bm25s = _bm25s()

    retriever = bm25s.BM25()
    corpus = bm25s.tokenize(
        list(texts), stopwords=_STOPWORDS, stemmer=_stemmer(), show_progress=False
    )
    if not any(corpus.ids):
        logger.warning("no indexable words in the passages; the store gets no lexical index")
        return
    retriever.index(corpus, show_progress=False)
    retriever.save(str(directory / LEXICAL_DIR))
    np.save(directory / LEXICAL_IDS, np.asarray(ids, dtype=np.int64))


class LexicalIndex:
    """A saved BM25 index, memory-mapped, answering with scores per passage id."""

    def __init__(self, retriever: Any, ids: NDArray[np.int64]) -> None:
        self._retriever = retriever
        self.ids = ids
        self._order = np.argsort(ids, kind="stable")
        self._sorted = ids[self._order]

    @classmethod
    def load(cls, directory: Path) -> LexicalIndex | None:
        """The store's lexical index, or None for a store built without one."""
        if not (directory / LEXICAL_DIR).is_dir():
            return None
        bm25s = _bm25s()

        retriever = bm25s.BM25.load(str(directory / LEXICAL_DIR), mmap=True)
        # Plain arrays over the same mapped memory: every slice of an np.memmap makes a memmap
        # object, and a query's scoring takes hundreds of slices (3 ms of 40 queries' 12 ms).
        retriever.scores = {k: np.asarray(v) if isinstance(v, np.memmap) else v
                            for k, v in retriever.scores.items()}
        return cls(retriever, np.load(directory / LEXICAL_IDS))

    def scores(self, queries: Sequence[str]) -> Iterator[NDArray[np.float32]]:
        """BM25 scores of every passage (in ``ids`` order) for each query in turn."""
        for tokens in tokenize(queries):
            if not tokens:
                yield np.zeros(len(self.ids), dtype=np.float32)
            else:
                yield np.asarray(self._retriever.get_scores(tokens), dtype=np.float32)

    def positions(self, passage_ids: NDArray[np.int64]) -> NDArray[np.int64]:
        """The position in ``ids`` of each passage id; -1 for ids this index lacks."""
        if not len(self._sorted):
            return np.full(len(passage_ids), -1, dtype=np.int64)
        found = np.minimum(np.searchsorted(self._sorted, passage_ids), len(self._sorted) - 1)
        return np.where(self._sorted[found] == passage_ids, self._order[found], -1).astype(np.int64)
