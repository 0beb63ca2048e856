"""What an export directory holds (``aside model export`` writes it, the runtime reads it),
and whether it is an export of the model installed now."""

from __future__ import annotations

import json
from pathlib import Path

from index.embedders.sentence_transformers import packaged_model_path

__all__ = [
    "EXPORT_FORMAT", "INPUTS", "META_FILE", "MIN_COSINE", "MODEL_FILE", "OPENVINO_FILE", "PROBES",
    "REFERENCE_FILE", "TOKENIZER_FILE", "WEIGHTS_FILE", "is_current", "weights_file", "weights_stamp",
]

META_FILE = "meta.json"
MODEL_FILE = "model.onnx"
# The weights, beside the graph: onnxruntime maps this file instead of copying it, so
# gunicorn workers share one copy through the page cache (with prepacking off, in runtime.py).
WEIGHTS_FILE = "model.data"
# sentence-transformers' vectors of the probe sentences, which a runtime must reproduce.
REFERENCE_FILE = "reference.npy"
# The same graph for OpenVINO (its own format), weights stored as float16: half the file
# to map (42 MB of it resident per process instead of 86) for the same vectors (OpenVINO
# computes in bfloat16 where it can, coarser than float16; lowest cosine to onnxruntime
# 0.99995 on 6,000 LIAR claims).
OPENVINO_FILE = "openvino.xml"
TOKENIZER_FILE = "tokenizer.json"
# 2: weights in WEIGHTS_FILE; 3: and REFERENCE_FILE and OPENVINO_FILE. An export of
# another format is made again.
EXPORT_FORMAT = 3
# The lowest cosine between a runtime's vectors and sentence-transformers' that is accepted.
MIN_COSINE = 0.999
# The graph's inputs, each an int64 (texts, tokens) array.
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# Sentences whose vectors an export and a runtime are checked on: news claims, a single
# word, and a French text longer than the model reads (truncated).
PROBES = (
    "Mexico is the largest supplier of fentanyl seized at the US border.",
    "The Golden Gate Bridge opened to traffic in May 1937.",
    "Tariffs of 25% on Canadian and Mexican goods took effect on Tuesday.",
    "short",
    "Les exportations du Mexique vers les États-Unis ont atteint un record en 2024. " * 12,
)


def weights_file(model_dir: Path) -> Path | None:
    """The weights file of a model directory (what an export is an export of), if any."""
    return next((model_dir / n for n in ("model.safetensors", "pytorch_model.bin")
                 if (model_dir / n).is_file()), None)


def weights_stamp(path: Path) -> list[int]:
    """[size in bytes, modification time in ns] of ``path``: a cheap identity of the weights."""
    info = path.stat()
    return [info.st_size, info.st_mtime_ns]


def is_current(directory: Path, model_path: Path | None = None) -> bool:
    """Whether ``directory`` holds an export of the model installed now (a cheap check)."""
    try:
        meta = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    weights = weights_file(model_path or packaged_model_path())
    return (weights is not None and meta.get("weights_stamp") == weights_stamp(weights)
            and meta.get("format") == EXPORT_FORMAT)
