"""Recent sentences' search results, so text seen before is neither embedded nor searched again.

Readers open the same article many times (and agencies' copy repeats across
sites). Entries are keyed by index build and cleaned sentence text, so a new
build never answers from an old one's results; they hold passage ids and
scores only (the passages are read from the build when a card is made), packed
into 32 bytes a hit: 10,000 sentences of 12 hits take 6 MB besides their text,
where tuples of Python numbers took 25 MB. Each sentence's embedding is kept
too, by its text as the article has it (for the blocks that hold near a reported
sentence, and for the answer's ``vector``), as int8 codes: 384 bytes for
all-MiniLM-L6-v2, 4 MB for 10,000.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from index.search import Row
from server.feedback import from_codes, to_codes

__all__ = ["SearchCache"]

# index.search's Row, packed.
_PACKED = np.dtype([("id", "<i8"), ("score", "<f8"), ("dense", "<f8"), ("lexical", "<f8")])


class SearchCache:
    """A thread-safe LRU of search results by (build id, cleaned sentence): a ``ResultCache``."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        # Embeddings of article leads (the model's, whatever the build), for the rescoring stage.
        self._vectors: OrderedDict[str, NDArray[np.float32]] = OrderedDict()
        # Embeddings of sentences, as int8 codes (``server.feedback.to_codes``).
        self._sentence_codes: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get_many(self, build_id: str, texts: Iterable[str]) -> dict[str, tuple[Row, ...]]:
        """The cached results of those texts that have them."""
        found: dict[str, tuple[Row, ...]] = {}
        with self._lock:
            for text in texts:
                packed = self._entries.get((build_id, text))
                if packed is None:
                    self.misses += 1
                    continue
                self._entries.move_to_end((build_id, text))
                found[text] = tuple(np.frombuffer(packed, dtype=_PACKED).tolist())
                self.hits += 1
        return found

    def put_many(self, build_id: str, results: Mapping[str, Sequence[Row]]) -> None:
        if self.size <= 0:
            return
        with self._lock:
            for text, rows in results.items():
                self._entries[(build_id, text)] = np.array(rows, dtype=_PACKED).tobytes()
                self._entries.move_to_end((build_id, text))
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def get_vector(self, text: str) -> NDArray[np.float32] | None:
        """The embedding kept for a text (an article's lead), or None."""
        with self._lock:
            vector = self._vectors.get(text)
            if vector is not None:
                self._vectors.move_to_end(text)
            return vector

    def put_vector(self, text: str, vector: NDArray[np.float32]) -> None:
        """Keep a text's embedding; one for every ten sentences kept, the oldest dropped first."""
        if self.size <= 0:
            return
        with self._lock:
            self._vectors[text] = vector
            self._vectors.move_to_end(text)
            while len(self._vectors) > max(1, self.size // 10):
                self._vectors.popitem(last=False)

    def get_sentence_vectors(self, texts: Iterable[str]) -> dict[str, NDArray[np.float32]]:
        """The kept embeddings (unit, float32, shape ``(dim,)``) of those sentences that have
        one: the model's, whatever the build."""
        found: dict[str, NDArray[np.float32]] = {}
        with self._lock:
            for text in texts:
                codes = self._sentence_codes.get(text)
                if codes is not None:
                    self._sentence_codes.move_to_end(text)
                    found[text] = from_codes(codes)
        return found

    def put_sentence_vectors(self, vectors: Mapping[str, NDArray[np.float32]]) -> None:
        """Keep sentences' unit embeddings, as many as results, the oldest dropped first."""
        if self.size <= 0:
            return
        with self._lock:
            for text, vector in vectors.items():
                self._sentence_codes[text] = to_codes(vector)
                self._sentence_codes.move_to_end(text)
            while len(self._sentence_codes) > self.size:
                self._sentence_codes.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
