"""The one place that picks an embedding backend from the settings."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from index.embedders.layout import MIN_COSINE, PROBES, REFERENCE_FILE, is_current
from index.embedders.protocol import Embedder
from index.embedders.runtime import OnnxEmbedder
from index.embedders.sentence_transformers import SentenceTransformerEmbedder

__all__ = ["BACKENDS", "load_embedder"]

logger = logging.getLogger(__name__)

BACKENDS = ("torch", "onnx", "openvino", "auto")


def load_embedder(*, backend: str = "torch", model_path: str = "", threads: int = 0,
                  onnx_dir: str = "", build: bool = False) -> Embedder:
    """The embedder the settings ask for (nothing is loaded until ``prepare`` or the first encode).

    ``torch`` embeds with sentence-transformers (``model_path``, default the packaged
    model); ``onnx`` and ``openvino`` run the export in ``onnx_dir`` with onnxruntime or
    OpenVINO; ``auto`` runs it when there is a current export of the packaged model (with
    OpenVINO, or onnxruntime where OpenVINO cannot), else embeds with torch. ``threads``
    0 means all cores. ``build``: ``auto`` runs the export with onnxruntime, loaded now, and
    takes torch, logging why, if it cannot run or its probe vectors differ from
    sentence-transformers' (cosine < 0.999). Raises ValueError for an unknown backend,
    FileNotFoundError when ``onnx`` or ``openvino`` find no export.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown embedding backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    if backend != "torch":
        if backend != "auto" or (not model_path and onnx_dir and is_current(Path(onnx_dir))):
            # Builds embed passages (50 tokens on average, up to 256), where onnxruntime
            # outran OpenVINO in float32 by a quarter on 2 cores; OpenVINO's fixed run
            # shapes are made for the service's short sentences (docs/performance.md).
            auto = "onnxruntime" if build else "auto"
            runtime = {"onnx": "onnxruntime", "openvino": "openvino"}.get(backend, auto)
            exported = OnnxEmbedder(Path(onnx_dir), threads=threads, runtime=runtime)
            if backend != "auto" or not build:
                return exported
            problem = _check(exported, Path(onnx_dir))
            if problem is None:
                return exported
            logger.warning("the ONNX export at %s cannot be used (%s); embedding with "
                           "sentence-transformers", onnx_dir, problem)
        else:
            (logger.warning if build else logger.info)(
                "no current ONNX export at %s; embedding with sentence-transformers "
                "(`aside model export` makes one)", onnx_dir)
    return SentenceTransformerEmbedder(Path(model_path) if model_path else None, threads=threads)


def _check(embedder: OnnxEmbedder, directory: Path) -> str | None:
    """Why ``embedder`` cannot stand in for sentence-transformers, or None when it can."""
    # OpenVINO checks itself against the reference when it loads, onnxruntime does not
    # (the export checked it once): a build about to write every vector checks again.
    try:
        reference = np.load(directory / REFERENCE_FILE)
        vectors = embedder.encode(list(PROBES))
    except (OSError, ValueError, RuntimeError, ImportError) as exc:
        return str(exc)
    cosine = float((vectors * reference).sum(axis=1).min())
    if cosine < MIN_COSINE:
        return f"{embedder.runtime}'s vectors differ from the reference: cosine {cosine:.5f}"
    logger.info("embedding with the export in %s run by %s (lowest cosine to the reference %.6f)",
                directory, embedder.runtime, cosine)
    return None
