"""The ``Embedder`` protocol: what the index builder and the service need from a model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["Embedder"]


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length float32 vectors of a fixed dimension.

    Vectors are L2-normalised, so the inner product of two of them (FAISS ``IndexFlatIP``)
    is their cosine similarity. ``name`` is written into a store's manifest, and a store
    serves only an embedder of the same ``name`` and ``dim``. Subclass ``Embedder`` to
    inherit the no-op ``prepare``; a class that only matches it structurally defines its own.
    """

    @property
    def name(self) -> str:
        """The model's name, e.g. ``sentence-transformers/all-MiniLM-L6-v2``."""
        ...

    @property
    def dim(self) -> int:
        """The length of each vector (384 for the packaged model)."""
        ...

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> NDArray[np.float32]:
        """Embed ``texts`` into an (n, dim) float32 array whose row i is the vector of text i.

        Each row has L2 norm 1 (to float32 precision). Texts longer than the model reads
        (256 tokens for the packaged model) are truncated; an empty string still gets a
        vector. ``batch_size`` bounds how many texts run through the model at once: it
        changes memory and speed, not the vectors (beyond float rounding). No texts give a (0, dim) array.

        Raises:
            FileNotFoundError: the model or its export is not where it was configured to
                be (from the first call, which loads the model).
            ImportError: the runtime asked for (e.g. OpenVINO) is not installed.
            RuntimeError: the runtime cannot run the model, or its vectors differ from
                the reference ones (an exported model checks itself when it loads).
        """
        ...

    def prepare(self) -> None:
        """Load what can be loaded before serving, starting no thread (so it is safe before a
        fork: gunicorn --preload calls it in the master and forked workers share the result).

        Optional: the default does nothing and the first ``encode`` loads everything.
        """
        return None
