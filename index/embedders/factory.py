"""The one place that picks an embedding backend from the settings."""

from __future__ import annotations

import logging
from pathlib import Path

from index.embedders.layout import is_current
from index.embedders.protocol import Embedder
from index.embedders.runtime import OnnxEmbedder
from index.embedders.sentence_transformers import SentenceTransformerEmbedder

__all__ = ["BACKENDS", "load_embedder"]

logger = logging.getLogger(__name__)

BACKENDS = ("torch", "onnx", "openvino", "auto")


def load_embedder(*, backend: str = "torch", model_path: str = "", threads: int = 0,
                  onnx_dir: str = "") -> Embedder:
    """The embedder the settings ask for (nothing is loaded until ``prepare`` or the first encode).

    ``torch`` embeds with sentence-transformers (``model_path``, default the packaged
    model); ``onnx`` and ``openvino`` run the export in ``onnx_dir`` with onnxruntime or
    OpenVINO; ``auto`` runs it when there is a current export of the packaged model (with
    OpenVINO, or onnxruntime where OpenVINO cannot), else embeds with torch. ``threads``
    0 means all cores. Raises ValueError for an unknown backend, FileNotFoundError when
    ``onnx`` or ``openvino`` find no export.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown embedding backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    if backend != "torch":
        if backend != "auto" or (not model_path and onnx_dir and is_current(Path(onnx_dir))):
            runtime = {"onnx": "onnxruntime", "openvino": "openvino"}.get(backend, "auto")
            return OnnxEmbedder(Path(onnx_dir), threads=threads, runtime=runtime)
        logger.info("no current ONNX export at %s; embedding with sentence-transformers "
                    "(`aside model export` makes one)", onnx_dir)
    return SentenceTransformerEmbedder(Path(model_path) if model_path else None, threads=threads)
