"""Embedders: texts -> unit-length float32 vectors, behind the ``Embedder`` protocol.

One job a module; each imports only those listed above it, so there is no import circle:

- ``protocol``: the ``Embedder`` contract.
- ``sentence_transformers``: the packaged model run by torch (index builds, the reference);
  ``load_model`` is the one place a model is loaded by path (and the hub kept offline).
- ``layout``: what an export directory holds; whether it is current.
- ``runs``: tokenised texts grouped into runs of the model, padded to fixed shapes.
- ``runtime``: the export run by onnxruntime or OpenVINO (the service); never imports torch.
- ``factory``: ``load_embedder``, the backend the settings ask for.
- ``export``: writes the export (torch, onnx); imported only by ``aside model export``.

Callers outside the package use these names, and ``export``/``layout`` for the export command.
"""

from __future__ import annotations

from index.embedders.factory import BACKENDS, load_embedder
from index.embedders.protocol import Embedder
from index.embedders.sentence_transformers import (
    PACKAGED_MODEL_NAME,
    SentenceTransformerEmbedder,
    packaged_model_path,
)

__all__ = [
    "BACKENDS", "PACKAGED_MODEL_NAME", "Embedder", "SentenceTransformerEmbedder", "load_embedder",
    "packaged_model_path",
]
