"""BM25 over the same passages as the vectors (``bm25s``): names and numbers matter in news.

The lexical index lives in the store directory (``bm25/``) beside ``index.faiss``;
``bm25_ids.npy`` maps its document positions to passage ids.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
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
        self._position = {int(i): n for n, i in enumerate(ids)}

    @classmethod
    def load(cls, directory: Path) -> LexicalIndex | None:
        """The store's lexical index, or None for a store built without one."""
        if not (directory / LEXICAL_DIR).is_dir():
            return None
        bm25s = _bm25s()

        retriever = bm25s.BM25.load(str(directory / LEXICAL_DIR), mmap=True)
        return cls(retriever, np.load(directory / LEXICAL_IDS))

    def scores(self, query: str) -> NDArray[np.float32]:
        """BM25 score of every passage (in ``ids`` order) for one query."""
        tokens = tokenize([query])[0]
        if not tokens:
            return np.zeros(len(self.ids), dtype=np.float32)
        return np.asarray(self._retriever.get_scores(tokens), dtype=np.float32)

    def position(self, passage_id: int) -> int | None:
        return self._position.get(passage_id)
